"""Event workflows: create, change, publish, cancel, delete, list; they flush, the caller commits.

An event is a `draft` (seen by its organiser only), `published` (listed and
bookable within its booking window) or `cancelled` (readable by id, never
listed, its bookings `event_cancelled`).
"""

from functools import cache

from sqlalchemy import bindparam, exists, or_, select, update

from eventbook import pagination
from eventbook.bookings import slots
from eventbook.bookings.changes import record_bookings, record_event
from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import (
    ACTIVE_WAITLIST_STATUSES,
    LIVE_BOOKING_STATUSES,
    Booking,
    Event,
    EventRow,
    EventTotal,
    WaitlistEntry,
    utcnow,
)
from eventbook.pagination import page_query, read_page


class EventNotFound(DomainError):
    status_code = 404
    message = "Event not found"


class NotOrganizer(DomainError):
    status_code = 403
    message = "Only the organizer of this event can change it"


class EventCancelled(DomainError):
    message = "Event has been cancelled"


class EventStarted(DomainError):
    message = "Event has already taken place"


class EventHasBookings(DomainError):
    status_code = 409
    message = "Event has bookings; cancel it instead"


class SlotsBelowBookings(DomainError):
    message = "total_slots cannot be lower than the number of bookings and holds"

    def __init__(self, taken):
        super().__init__(f"{self.message} ({taken})")


class InvalidSchedule(DomainError):
    """The dates of an event contradict each other once a change is applied."""

    def __init__(self, message):
        super().__init__(message)


def get_event(event_id, user_id=None):
    """Return an event, as an `EventRow`, to be answered; a draft only to its organiser.

    :raises EventNotFound:
    """
    event = next(iter(EventRow.read(_event_by_id(), {"event_id": event_id})), None)
    if event is None or (event.status == "draft" and event.organizer_id != user_id):
        raise EventNotFound()
    return event


@cache
def _event_by_id():
    """The SELECT of one event's columns (bind parameter `event_id`), built once."""
    return select(*EventRow.columns).where(Event.id == bindparam("event_id"))


def get_own_event(event_id, user_id):
    """Return the event for a change by its organizer, locked and settled until commit.

    :raises EventNotFound:
    :raises NotOrganizer: `user_id` did not organize it.
    """
    event = slots.lock_event(event_id)
    if event is None or (event.status == "draft" and event.organizer_id != user_id):
        raise EventNotFound()
    if event.organizer_id != user_id:
        raise NotOrganizer()
    return slots.settle(event)


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(upcoming=False, searched=False, by_organizer=False):
    """Return the filters of a list of events; their values are the bind
    parameters `now`, `pattern` (a LIKE pattern) and `organizer_id`."""
    if by_organizer:
        filters = [Event.organizer_id == bindparam("organizer_id")]
    else:
        filters = [Event.status == "published"]
    if upcoming:
        filters.append(Event.event_date > bindparam("now"))
    if searched:
        pattern = bindparam("pattern")
        filters.append(
            or_(Event.title.ilike(pattern, escape="\\"), Event.location.ilike(pattern, escape="\\"))
        )
    return filters


def _filter_values(upcoming=False, q=None, organizer_id=None):
    values = {"organizer_id": organizer_id}
    if upcoming:
        values["now"] = utcnow()
    if q:
        values["pattern"] = f"%{_escape_like(q)}%"
    return values


@cache
def _page_query(upcoming, searched, by_organizer, by_fill, deferred, resumed):
    filters = _filters(upcoming, searched, by_organizer)
    plain = not (upcoming or searched or by_organizer)
    total = select(EventTotal.events) if plain else None
    order = (
        ((Event.booked_count * 1.0 / Event.total_slots).desc(), Event.id)
        if by_fill
        else (Event.event_date, Event.id)
    )
    return page_query(EventRow, filters, order, deferred, resumed, total)


def list_events(skip, limit, upcoming=False, q=None, organizer_id=None, after=None, by_fill=False):
    """Return a `Page` of `EventRow`s ordered by date (or, `by_fill`, fullest first:
    booked_count / total_slots, then id), with the number of matches.

    Published events only, unless `organizer_id` asks for that organiser's
    events in every status. Unfiltered, the number is the one the triggers
    keep in `event_total`: counting every event would cost more than the
    page, and grow with it.

    :param after: the (event_date, id) of the last event seen: the page
        starts right after it.
    """
    query = _page_query(
        upcoming=bool(upcoming),
        searched=bool(q),
        by_organizer=organizer_id is not None,
        by_fill=bool(by_fill),
        deferred=skip >= pagination.DEFERRED_JOIN_FROM,
        resumed=after is not None,
    )
    return read_page(query, _filter_values(upcoming, q, organizer_id), skip, limit, after)


@cache
def _top_booked_statement(upcoming):
    return (
        select(*EventRow.columns)
        .where(*_filters(upcoming))
        .order_by(Event.booked_count.desc(), Event.id)
        .limit(bindparam("limit"))
    )


def top_booked(limit, upcoming=False):
    """Return the most booked published events (`EventRow`s), read from the indexed counter."""
    statement = _top_booked_statement(bool(upcoming))
    return EventRow.read(statement, {"limit": limit, **_filter_values(upcoming)})


def check_schedule(event):
    """Check that an event's dates agree with each other.

    :raises InvalidSchedule: a booking window or deadline after the event's
        start, booking closing before it opens, or an end before the start.
    """
    for name in ("booking_opens_at", "booking_closes_at", "cancellation_deadline"):
        value = getattr(event, name)
        if value is not None and value > event.event_date:
            raise InvalidSchedule(f"{name} must not be after event_date")
    opens, closes = event.booking_opens_at, event.booking_closes_at
    if opens is not None and closes is not None and opens >= closes:
        raise InvalidSchedule("booking_opens_at must be before booking_closes_at")
    if event.ends_at is not None and event.ends_at <= event.event_date:
        raise InvalidSchedule("ends_at must be after event_date")


def create_event(organizer_id, **fields):
    """Create an event organised by `organizer_id`, `published` unless `status` says `draft`.

    :raises InvalidSchedule:
    """
    event = Event(organizer_id=organizer_id, booked_count=0, **fields)
    check_schedule(event)
    db.session.add(event)
    db.session.flush()
    record_event("event.created", event)
    return event


def update_event(event, changes):
    """Apply `changes` to a locked, settled event; new slots go to the waitlist at once.

    :raises EventCancelled:
    :raises SlotsBelowBookings: total_slots would drop below the confirmed
        bookings and live holds.
    :raises InvalidSchedule:
    """
    if event.status == "cancelled":
        raise EventCancelled()
    taken = event.booked_count + event.held_count
    if changes.get("total_slots", event.total_slots) < taken:
        raise SlotsBelowBookings(taken)
    for name, value in changes.items():
        setattr(event, name, value)
    check_schedule(event)
    event.sequence += 1
    db.session.flush()
    record_event("event.updated", event)
    return slots.settle(event)


def publish_event(event):
    """Publish a locked draft; publishing a published event changes nothing.

    :raises EventCancelled:
    """
    if event.status == "cancelled":
        raise EventCancelled()
    if event.status == "draft":
        event.status = "published"
        event.sequence += 1
        db.session.flush()
        record_event("event.published", event)
    return event


def cancel_event(event, reason=None):
    """Cancel a locked event: its live bookings become `event_cancelled`, its waitlist closes.

    :raises EventCancelled: it already was.
    :raises EventStarted: it has taken place.
    """
    if event.status == "cancelled":
        raise EventCancelled()
    now = utcnow()
    if event.has_taken_place(now):
        raise EventStarted()
    cancelled = db.session.scalars(
        update(Booking)
        .where(Booking.event_id == event.id, Booking.status.in_(LIVE_BOOKING_STATUSES))
        .values(status="event_cancelled", cancelled_at=now)
        .returning(Booking)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).all()
    slots.close_waitlist(event, statuses=ACTIVE_WAITLIST_STATUSES)
    event.status, event.cancelled_at, event.cancellation_reason = "cancelled", now, reason
    event.booked_count = event.held_count = event.waiting_count = 0
    event.next_hold_expiry = None
    event.sequence += 1
    db.session.flush()
    record_event("event.cancelled", event)
    record_bookings("booking.event_cancelled", cancelled, event)
    return event


def delete_event(event):
    """Delete an event that never had a booking or a waitlist entry.

    :raises EventHasBookings: it has (or had) some; cancel it instead.
    """
    history = or_(
        exists().where(Booking.event_id == event.id),
        exists().where(WaitlistEntry.event_id == event.id),
    )
    if db.session.scalar(select(history)):
        raise EventHasBookings()
    db.session.delete(event)
    db.session.flush()
