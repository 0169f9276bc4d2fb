"""Event workflows; they flush, the caller commits."""

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import Event, EventTotal, utcnow
from eventbook.pagination import page_with_total


class EventNotFound(DomainError):
    status_code = 404
    message = "Event not found"


class NotOrganizer(DomainError):
    status_code = 403
    message = "Only the organizer of this event can change it"


class SlotsBelowBookings(DomainError):
    message = "total_slots cannot be lower than the number of bookings"

    def __init__(self, booked):
        super().__init__(f"{self.message} ({booked})")


def get_event(event_id):
    """:raises EventNotFound:"""
    event = db.session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    return event


def get_own_event(event_id, user_id):
    """Return the event for a change by its organizer, locked until commit.

    :raises EventNotFound:
    :raises NotOrganizer: `user_id` did not organize it.
    """
    event = db.session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise EventNotFound()
    if event.organizer_id != user_id:
        raise NotOrganizer()
    return event


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(upcoming=False, q=None):
    filters = []
    if upcoming:
        filters.append(Event.event_date > utcnow())
    if q:
        pattern = f"%{_escape_like(q)}%"
        filters.append(
            or_(
                Event.title.ilike(pattern, escape="\\"),
                Event.location.ilike(pattern, escape="\\"),
            )
        )
    return filters


def list_events(skip, limit, upcoming=False, q=None, by_fill=False):
    """Return a page of events ordered by date (or, `by_fill`, fullest first:
    booked_count / total_slots, then id), and the number of matches.

    Unfiltered, the number is the one the triggers keep in `event_total`:
    counting every event would cost more than the page, and grow with it.
    """
    filters = _filters(upcoming, q)
    total = None if filters else select(EventTotal.events)
    order = (
        ((Event.booked_count * 1.0 / Event.total_slots).desc(), Event.id)
        if by_fill
        else (Event.event_date, Event.id)
    )
    return page_with_total(Event, filters, order, skip, limit, total)


def top_booked(limit, upcoming=False):
    """Return the most booked events, read from the indexed booking counter."""
    return db.session.scalars(
        select(Event)
        .where(*_filters(upcoming))
        .order_by(Event.booked_count.desc(), Event.id)
        .limit(limit)
    ).all()


def create_event(organizer_id, **fields):
    event = Event(organizer_id=organizer_id, booked_count=0, **fields)
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event, changes):
    """Apply `changes` to a locked event.

    :raises SlotsBelowBookings: total_slots would drop below its bookings.
    """
    if changes.get("total_slots", event.total_slots) < event.booked_count:
        raise SlotsBelowBookings(event.booked_count)
    for name, value in changes.items():
        setattr(event, name, value)
    try:
        db.session.flush()
    except IntegrityError:
        # Only where the database cannot lock the row (SQLite) can a booking
        # slip in between the check and the update; the CHECK stops it.
        db.session.rollback()
        raise SlotsBelowBookings(get_event(event.id).booked_count) from None
    return event


def delete_event(event):
    """Delete an event; the database deletes its bookings with it."""
    db.session.delete(event)
    db.session.flush()
