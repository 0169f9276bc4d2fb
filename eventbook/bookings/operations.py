"""Booking workflows: book or hold, confirm, cancel, read; they flush, the caller commits.

How a slot is taken and freed is in `eventbook.bookings.slots`. When a
request is refused, the reason given follows one precedence (SPEC 7): an
unknown event (or a draft, to anyone but its organiser), a cancelled event,
a live booking already held, an event that has started, booking closed,
booking not open yet, and last a full event.
"""

from functools import cache

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from eventbook.bookings import slots
from eventbook.bookings.changes import record_booking, record_entries
from eventbook.errors import DomainError
from eventbook.events.operations import EventCancelled, EventNotFound
from eventbook.extensions import db
from eventbook.models import LIVE_BOOKING_STATUSES, Booking, Event, WaitlistEntry, utcnow


class EventFull(DomainError):
    message = "Event is fully booked"


class AlreadyBooked(DomainError):
    message = "You have already booked this event"


class EventPast(DomainError):
    message = "Event has already taken place"


class BookingClosed(DomainError):
    message = "Booking has closed"


class BookingNotOpen(DomainError):
    message = "Booking is not open yet"


class HoldExpired(DomainError):
    message = "Hold has expired"


class BookingCancelled(DomainError):
    message = "Booking has been cancelled"


class CancellationDeadlinePassed(DomainError):
    message = "Cancellation deadline has passed"


class BookingNotFound(DomainError):
    status_code = 404
    message = "Booking not found"


# The refusals of a booking window, by `Event.booking_state()`.
WINDOW_REFUSALS = {
    "cancelled": EventCancelled,
    "past": EventPast,
    "closed": BookingClosed,
    "draft": BookingNotOpen,
    "not_open": BookingNotOpen,
}


def has_live_booking(user_id, event_id):
    return (
        db.session.scalar(
            select(Booking.id).where(
                Booking.user_id == user_id,
                Booking.event_id == event_id,
                Booking.status.in_(LIVE_BOOKING_STATUSES),
            )
        )
        is not None
    )


def lock_visible_event(event_id, user_id):
    """Lock and settle an event the user may see; a draft is visible to its organiser only.

    :raises EventNotFound:
    """
    event = slots.lock_event(event_id)
    if event is None or (event.status == "draft" and event.organizer_id != user_id):
        raise EventNotFound()
    return slots.settle(event)


def refusal(event, user_id, full=EventFull):
    """Explain, in the order of precedence, why `user_id` cannot book the settled event."""
    state = event.booking_state()
    if state == "cancelled":
        return EventCancelled()
    if has_live_booking(user_id, event.id):
        return AlreadyBooked()
    if state != "open":
        return WINDOW_REFUSALS[state]()
    return full()


def book_event(user_id, event_id, hold=False):
    """Book one slot of an event for a user, confirmed or held.

    :param hold: hold the slot until `expires_at` (`HOLD_TTL_SECONDS` from
        now) instead of confirming it.
    :returns: the booking, with its event.
    :raises EventNotFound: no such event, or a draft of someone else.
    :raises EventCancelled, AlreadyBooked, EventPast, BookingClosed,
        BookingNotOpen, EventFull: in that order of precedence.

    After an error the transaction may hold a taken slot: the caller must
    not commit it (a request that fails ends with a rollback).
    """
    event = slots.take_slot(event_id, hold)
    if event is None:
        event = lock_visible_event(event_id, user_id)
        event = slots.take_slot(event_id, hold, locked=True)
        if event is None:
            raise refusal(db.session.get(Event, event_id), user_id)
    booking = slots.insert_booking(user_id, event_id, hold)
    if booking is None:
        raise AlreadyBooked()
    set_committed_value(booking, "event", event)
    record_booking("booking.held" if hold else "booking.confirmed", booking, event)
    return booking


@cache
def _event_of_booking():
    """The event id of a user's booking (bind parameters `booking_id`, `user_id`); built once."""
    return select(Booking.event_id).where(
        Booking.id == bindparam("booking_id"), Booking.user_id == bindparam("user_id")
    )


def _lock_booking(user_id, booking_id):
    """Lock the event of a user's booking, settle it, and return the booking re-read.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    """
    event_id = db.session.scalar(
        _event_of_booking(), {"booking_id": booking_id, "user_id": user_id}
    )
    if event_id is None:
        raise BookingNotFound()
    event = slots.settle(slots.lock_event(event_id))
    booking = db.session.get(Booking, booking_id, populate_existing=True)
    set_committed_value(booking, "event", event)
    return booking


def confirm_booking(user_id, booking_id):
    """Confirm a held booking of `user_id`; a confirmed one is returned unchanged.

    Confirming an offer from the waitlist accepts it. A hold may be
    confirmed until the event starts, even after booking has closed.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    :raises HoldExpired, BookingCancelled, EventCancelled, EventPast:
    """
    booking = _lock_booking(user_id, booking_id)
    if booking.status == "confirmed":
        return booking
    if booking.status != "held":
        raise {"expired": HoldExpired, "cancelled": BookingCancelled}.get(
            booking.status, EventCancelled
        )()
    if booking.event.has_taken_place():
        raise EventPast()
    now = utcnow()
    # A confirmed booking no longer expires.
    booking.status, booking.confirmed_at, booking.expires_at = "confirmed", now, None
    accepted = db.session.scalars(
        update(WaitlistEntry)
        .where(WaitlistEntry.booking_id == booking.id, WaitlistEntry.status == "offered")
        .values(status="accepted", closed_at=now)
        .returning(WaitlistEntry)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).all()
    db.session.flush()
    event = slots.adjust_counters(
        booking.event_id,
        held_count=Event.held_count - 1,
        booked_count=Event.booked_count + 1,
    )
    record_booking("booking.confirmed", booking, event)
    record_entries("waitlist.accepted", accepted, event)
    return booking


def cancel_booking(user_id, booking_id):
    """Cancel a booking of `user_id` (or release a hold); its slot is offered on.

    Cancelling a booking that is no longer live changes nothing.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    :raises EventPast: the event has started.
    :raises CancellationDeadlinePassed: a confirmed booking after the
        event's cancellation deadline (a hold may be released until the start).
    """
    booking = _lock_booking(user_id, booking_id)
    if booking.status not in LIVE_BOOKING_STATUSES:
        return booking
    event = booking.event
    now = utcnow()
    if event.has_taken_place(now):
        raise EventPast()
    deadline = event.cancellation_deadline
    if booking.status == "confirmed" and deadline is not None and deadline <= now:
        raise CancellationDeadlinePassed()
    slots.release(event, booking, "cancelled", now)
    return booking


def get_booking(user_id, booking_id):
    """Return a booking of `user_id` with its event.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    """
    booking = db.session.scalar(_booking_of_user(), {"booking_id": booking_id, "user_id": user_id})
    if booking is None:
        raise BookingNotFound()
    return booking


@cache
def _booking_of_user():
    """A user's booking with its event (bind parameters `booking_id`, `user_id`); built once."""
    return (
        select(Booking)
        .options(joinedload(Booking.event))
        .where(Booking.id == bindparam("booking_id"), Booking.user_id == bindparam("user_id"))
    )


@cache
def _my_bookings_statements():
    """Return (page, number) statements of one user's bookings in some statuses.

    Built once: bind parameters `user_id`, `statuses`, `skip`, `limit`.
    """
    mine = (
        Booking.user_id == bindparam("user_id"),
        Booking.current_status.in_(bindparam("statuses", expanding=True)),
    )
    total = select(func.count()).select_from(Booking).where(*mine)
    page = (
        select(Booking, total.scalar_subquery())
        .join(Booking.event)
        .options(contains_eager(Booking.event))
        .where(*mine)
        .order_by(Booking.created_at.desc(), Booking.id.desc())
        .offset(bindparam("skip"))
        .limit(bindparam("limit"))
    )
    return page, total


def list_bookings(user_id, skip, limit, statuses=LIVE_BOOKING_STATUSES):
    """Return a page of a user's bookings in `statuses`, newest first, and their number.

    Statuses are read as of now: a hold past its expiry is `expired`.
    One statement: a user's bookings are few, so the page is read directly
    through the (user_id, created_at) index, with each booking's event and
    the number of matches beside it.
    """
    page, total = _my_bookings_statements()
    params = {"user_id": user_id, "statuses": list(statuses), "skip": skip, "limit": limit}
    rows = db.session.execute(page, params).all()
    if not rows:  # past the last page: nothing carried the number
        return [], db.session.scalar(total, params)
    return [row[0] for row in rows], rows[0][1]
