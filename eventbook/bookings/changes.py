"""What the booking workflows record in the change log, in their own transactions.

Each recorder dumps the resource with its response schema (the
representation the API gives, as of the change) and hands it to
`eventbook.webhooks.changes.record_change`.
"""

from sqlalchemy.orm.attributes import set_committed_value

from eventbook.bookings.schemas import BookingSchema
from eventbook.events.schemas import EventSchema
from eventbook.extensions import db
from eventbook.models import Booking
from eventbook.waitlist.schemas import WaitlistEntrySchema
from eventbook.webhooks.changes import record_change

# Built once: a schema's construction costs more than a dump.
EVENT = EventSchema()
BOOKING = BookingSchema()
WAITLIST_ENTRY = WaitlistEntrySchema()


def record_event(change_type, event):
    """Record `event.*` with the event's representation."""
    record_change(change_type, event.id, EVENT.dump(event))


def record_booking(change_type, booking, event):
    """Record `booking.*` with the booking's representation, its event included."""
    set_committed_value(booking, "event", event)
    record_change(change_type, event.id, BOOKING.dump(booking))


def record_entry(change_type, entry, event, position=None):
    """Record `waitlist.*` with the entry's representation, its offer included."""
    offer = db.session.get(Booking, entry.booking_id) if entry.booking_id else None
    if offer is not None:
        set_committed_value(offer, "event", event)
    set_committed_value(entry, "offer", offer)
    entry.position = position
    record_change(change_type, event.id, WAITLIST_ENTRY.dump(entry))
