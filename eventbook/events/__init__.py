"""Events: listing, details, the most booked, and their organisers' changes."""
