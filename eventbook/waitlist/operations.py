"""Waitlist workflows: join, read, leave; they flush, the caller commits.

Fairness (SPEC 7): a freed slot goes to the first `waiting` entry, by join
time then id, as an offer made in the transaction that freed it (see
`eventbook.bookings.slots.offer_free_slots`).
"""

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from eventbook.bookings import slots
from eventbook.bookings.changes import record_entry
from eventbook.bookings.operations import lock_visible_event, refusal
from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import ACTIVE_WAITLIST_STATUSES, Booking, Event, WaitlistEntry, utcnow


class EventHasFreeSlots(DomainError):
    message = "Event has free slots; book one instead"


class AlreadyWaiting(DomainError):
    message = "You are already on the waitlist"


class EntryNotFound(DomainError):
    status_code = 404
    message = "Waitlist entry not found"


def _active_entry(user_id, event_id):
    return db.session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.event_id == event_id,
            WaitlistEntry.status.in_(ACTIVE_WAITLIST_STATUSES),
        )
    )


def join_waitlist(user_id, event_id):
    """Put `user_id` on the waitlist of a full event.

    :returns: the entry, `waiting`, with its `position`.
    :raises EventNotFound: no such event, or a draft of someone else.
    :raises EventCancelled, AlreadyBooked, AlreadyWaiting, EventPast,
        BookingClosed, BookingNotOpen, EventHasFreeSlots: in that order.
    """
    event = lock_visible_event(event_id, user_id)
    problem = refusal(event, user_id, full=EventHasFreeSlots)
    if not isinstance(problem, EventHasFreeSlots):
        raise problem
    if _active_entry(user_id, event_id) is not None:
        raise AlreadyWaiting()
    if event.available_slots > 0:
        raise problem
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    entry = db.session.scalar(
        insert(WaitlistEntry)
        .values(user_id=user_id, event_id=event_id, status="waiting", created_at=utcnow())
        .on_conflict_do_nothing(
            index_elements=[WaitlistEntry.user_id, WaitlistEntry.event_id],
            index_where=WaitlistEntry.status.in_(ACTIVE_WAITLIST_STATUSES),
        )
        .returning(WaitlistEntry)
    )
    if entry is None:
        raise AlreadyWaiting()
    event = slots.adjust_counters(event_id, waiting_count=Event.waiting_count + 1)
    record_entry("waitlist.joined", entry, event, position(entry))
    return entry


def position(entry):
    """Return the 1-based place of a `waiting` entry among its event's waiting; else None."""
    if entry.status != "waiting":
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.event_id == entry.event_id,
            WaitlistEntry.status == "waiting",
            or_(
                WaitlistEntry.created_at < entry.created_at,
                and_(WaitlistEntry.created_at == entry.created_at, WaitlistEntry.id < entry.id),
            ),
        )
    )
    return ahead + 1


def my_entries(user_id):
    """Return the user's `waiting` and `offered` entries, oldest first, each with its
    `position` and `offer` (the held booking, with its event)."""
    entries = db.session.scalars(
        select(WaitlistEntry)
        .options(joinedload(WaitlistEntry.offer).joinedload(Booking.event))
        .where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_(ACTIVE_WAITLIST_STATUSES),
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    for entry in entries:
        entry.position = position(entry)
    return entries


def leave_waitlist(user_id, entry_id):
    """Take `user_id` off a waitlist; an open offer is released and passes on.

    Leaving an entry that is no longer active changes nothing.

    :raises EntryNotFound: no such entry, or it belongs to someone else.
    """
    event_id = db.session.scalar(
        select(WaitlistEntry.event_id).where(
            WaitlistEntry.id == entry_id, WaitlistEntry.user_id == user_id
        )
    )
    if event_id is None:
        raise EntryNotFound()
    event = slots.settle(slots.lock_event(event_id))
    entry = db.session.get(WaitlistEntry, entry_id, populate_existing=True)
    if entry.status == "waiting":
        entry.status, entry.closed_at = "left", utcnow()
        db.session.flush()
        event = slots.adjust_counters(event_id, waiting_count=Event.waiting_count - 1)
        record_entry("waitlist.left", entry, event)
    elif entry.status == "offered":
        booking = db.session.get(Booking, entry.booking_id, populate_existing=True)
        if booking.status == "held":
            slots.release(event, booking, "cancelled")
        entry = db.session.get(WaitlistEntry, entry_id, populate_existing=True)
        if entry.status == "offered":
            entry.status, entry.closed_at = "left", utcnow()
            db.session.flush()
            record_entry("waitlist.left", entry, event)
    return entry
