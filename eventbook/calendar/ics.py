"""iCalendar (RFC 5545) files of one event, for the event itself or one booking of it.

Each file holds one VEVENT. Its UID stays the same for the event (or the
booking) forever and its SEQUENCE is `Event.sequence`, which grows with
every change of the event: a calendar that imported the file replaces its
copy on the next import (RFC 5545, 3.8.4.7 and 3.8.7.4).
"""

import icalendar

from eventbook.models import utcnow

MEDIA_TYPE = "text/calendar"
PRODUCT_ID = "-//eventbook//eventbook//EN"
UID_DOMAIN = "eventbook"

# RFC 5545, 3.8.1.11: the STATUS of a VEVENT.
BOOKING_CALENDAR_STATUSES = {"held": "TENTATIVE", "confirmed": "CONFIRMED"}


def event_status(event):
    return "CANCELLED" if event.status == "cancelled" else "CONFIRMED"


def booking_status(booking):
    """`CONFIRMED`, `TENTATIVE` for a live hold, else `CANCELLED` (expired or cancelled)."""
    if booking.event.status == "cancelled":
        return "CANCELLED"
    return BOOKING_CALENDAR_STATUSES.get(booking.current_status, "CANCELLED")


def calendar_file(event, uid, status, now=None):
    """Return the iCalendar file (bytes) of `event` as one VEVENT with `uid` and `status`."""
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", now or utcnow())
    vevent.add("dtstart", event.event_date)
    if event.ends_at is not None:
        vevent.add("dtend", event.ends_at)
    vevent.add("summary", event.title)
    vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("status", status)
    vevent.add("sequence", event.sequence)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(vevent)
    return calendar.to_ical()


def event_calendar(event, now=None):
    return calendar_file(event, f"event-{event.id}@{UID_DOMAIN}", event_status(event), now)


def booking_calendar(booking, now=None):
    return calendar_file(
        booking.event, f"booking-{booking.id}@{UID_DOMAIN}", booking_status(booking), now
    )
