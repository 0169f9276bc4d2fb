"""The organiser's side of an event: its attendees, their numbers, check-in at the door."""
