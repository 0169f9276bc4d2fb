"""What the booking workflows record in the change log, in their own transactions.

Each recorder dumps the resource with its response schema (the
representation the API gives, as of the change) and hands it to
`eventbook.webhooks.changes.record_changes`: many bookings or entries
changed at once are recorded in a fixed number of statements.
"""

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from eventbook.bookings.schemas import BookingSchema
from eventbook.events.schemas import EventSchema
from eventbook.extensions import db
from eventbook.models import Booking
from eventbook.waitlist.schemas import WaitlistEntrySchema
from eventbook.webhooks.changes import record_change, record_changes

# Built once: a schema's construction costs more than a dump.
EVENT = EventSchema()
BOOKING = BookingSchema()
WAITLIST_ENTRY = WaitlistEntrySchema()


def record_event(change_type, event):
    """Record `event.*` with the event's representation."""
    record_change(change_type, event.id, EVENT.dump(event))


def record_booking(change_type, booking, event):
    """Record `booking.*` with the booking's representation, its event included."""
    record_bookings(change_type, [booking], event)


def record_bookings(change_type, bookings, event):
    """Record `booking.*` for each of an event's `bookings`, in a fixed number of statements."""
    for booking in bookings:
        set_committed_value(booking, "event", event)
    record_changes(change_type, event.id, [BOOKING.dump(booking) for booking in bookings])


def record_entry(change_type, entry, event, position=None):
    """Record `waitlist.*` with the entry's representation, its offer included."""
    record_entries(change_type, [entry], event, [position])


def record_entries(change_type, entries, event, positions=None):
    """Record `waitlist.*` for each of an event's `entries`, offers included.

    :param positions: each entry's place among the waiting, or None (all
        None: entries no longer waiting).
    """
    offers = _offers(entries)
    for entry, position in zip(entries, positions or [None] * len(entries), strict=True):
        offer = offers.get(entry.booking_id)
        if offer is not None:
            set_committed_value(offer, "event", event)
        set_committed_value(entry, "offer", offer)
        entry.position = position
    record_changes(change_type, event.id, [WAITLIST_ENTRY.dump(entry) for entry in entries])


def _offers(entries):
    """The held bookings of the entries with an offer, by id.

    An offer just made is in the session already; only the others are
    read, in one statement.
    """
    offers = {}
    for booking_id in {entry.booking_id for entry in entries if entry.booking_id}:
        offers[booking_id] = db.session.identity_map.get(identity_key(Booking, booking_id))
    missing = [booking_id for booking_id, booking in offers.items() if booking is None]
    if missing:
        offers.update(
            (booking.id, booking)
            for booking in db.session.scalars(select(Booking).where(Booking.id.in_(missing)))
        )
    return offers
