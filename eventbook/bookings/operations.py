"""Booking workflows; they flush, the caller commits.

Capacity is enforced by one conditional UPDATE of the event's counter, in
the same transaction as the booking row: the database takes the slot only
if one is free, so no number of concurrent requests can oversell. The
CHECK on booked_count and the UNIQUE (user_id, event_id) back it up. Both
booking and cancelling update the event row before touching bookings, so
they take their locks in the same order.
"""

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from eventbook.bookings.schemas import booking_json
from eventbook.errors import DomainError
from eventbook.events.operations import EventNotFound
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow
from eventbook.webhooks.changes import record_change


class EventFull(DomainError):
    message = "Event is fully booked"


class AlreadyBooked(DomainError):
    message = "You have already booked this event"


class EventPast(DomainError):
    message = "Event has already taken place"


class BookingNotFound(DomainError):
    status_code = 404
    message = "Booking not found"


def _has_booking(user_id, event_id):
    return (
        db.session.scalar(
            select(Booking.id).where(Booking.user_id == user_id, Booking.event_id == event_id)
        )
        is not None
    )


def _refusal(user_id, event_id, now):
    """Explain why no slot could be taken."""
    event = db.session.get(Event, event_id)
    if event is None:
        return EventNotFound()
    if _has_booking(user_id, event_id):
        return AlreadyBooked()
    if event.has_taken_place(now):
        return EventPast()
    return EventFull()


def _insert_booking(user_id, event_id, now):
    """Insert a booking unless the user holds one for the event; return it or None."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    return db.session.scalar(
        insert(Booking)
        .values(user_id=user_id, event_id=event_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[Booking.user_id, Booking.event_id])
        .returning(Booking)
    )


def book_event(user_id, event_id, now=None):
    """Book one slot of an event for a user.

    :raises EventNotFound:
    :raises AlreadyBooked: the user holds a booking for this event.
    :raises EventPast: the event has started.
    :raises EventFull: no slot is free.

    After an error the transaction holds a taken slot: the caller must not
    commit it (a request that fails ends with a rollback).
    """
    now = now or utcnow()
    event = db.session.scalar(
        update(Event)
        .where(
            Event.id == event_id,
            Event.booked_count < Event.total_slots,
            Event.event_date > now,
        )
        .values(booked_count=Event.booked_count + 1)
        .returning(Event)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if event is None:
        raise _refusal(user_id, event_id, now)
    booking = _insert_booking(user_id, event_id, now)
    if booking is None:
        raise AlreadyBooked()
    set_committed_value(booking, "event", event)
    record_change("booking.confirmed", event_id, booking_json(booking))
    return booking


def get_booking(user_id, booking_id):
    """Return a booking of `user_id` with its event.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    """
    booking = db.session.scalar(
        select(Booking)
        .options(joinedload(Booking.event))
        .where(Booking.id == booking_id, Booking.user_id == user_id)
    )
    if booking is None:
        raise BookingNotFound()
    return booking


def list_bookings(user_id, skip, limit):
    """Return a page of a user's bookings, newest first, and their number.

    One statement: a user's bookings are few, so the page is read directly
    through the (user_id, created_at) index, with each booking's event and
    the number of the user's bookings beside it.
    """
    mine = Booking.user_id == user_id
    total = select(func.count()).select_from(Booking).where(mine).scalar_subquery()
    rows = db.session.execute(
        select(Booking, total)
        .join(Booking.event)
        .options(contains_eager(Booking.event))
        .where(mine)
        .order_by(Booking.created_at.desc(), Booking.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    if not rows:  # past the last page: nothing carried the number
        return [], db.session.scalar(select(total))
    return [row[0] for row in rows], rows[0][1]


def cancel_booking(user_id, booking_id, now=None):
    """Cancel a booking of `user_id`; its slot is free again.

    :raises BookingNotFound: no such booking, or it belongs to someone else.
    :raises EventPast: the event has started.
    """
    now = now or utcnow()
    event_id = db.session.scalar(
        select(Booking.event_id).where(Booking.id == booking_id, Booking.user_id == user_id)
    )
    if event_id is None:
        raise BookingNotFound()
    released = db.session.execute(
        update(Event)
        .where(Event.id == event_id, Event.event_date > now)
        .values(booked_count=Event.booked_count - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1:
        raise EventPast()
    booking = db.session.scalar(
        delete(Booking)
        .where(Booking.id == booking_id, Booking.user_id == user_id)
        .returning(Booking)
        .execution_options(synchronize_session=False)
    )
    if booking is None:
        raise BookingNotFound()  # cancelled concurrently; the caller rolls back
    set_committed_value(booking, "event", db.session.get(Event, event_id, populate_existing=True))
    record_change("booking.cancelled", event_id, booking_json(booking))
