"""Slots: taking one, freeing one, expiring holds and handing freed slots to the waitlist.

Every rule that makes a slot less available is one conditional UPDATE of
the event's counters (pretix's rule: lock, or conditionally update, before
you check): the database takes the slot only if, in that row, one is free,
so no number of concurrent requests on any number of hosts can oversell,
and the CHECKs on the counters back it up. Whatever frees a slot, and
whatever must see the holds that ran out, first locks the event row
(`lock_event`) and settles it (`settle`): the event's due expiries are
processed and every free slot is offered to the first person waiting, in
that same transaction, so no newcomer can take a freed slot meanwhile.

Expiry is judged on the database clock (`DatabaseNow`). These functions
flush; the caller commits.
"""

from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from eventbook.bookings.changes import record_booking, record_bookings, record_entries
from eventbook.extensions import db
from eventbook.models import (
    ACTIVE_WAITLIST_STATUSES,
    LIVE_BOOKING_STATUSES,
    Booking,
    DatabaseNow,
    Event,
    WaitlistEntry,
    utcnow,
)


def lock_event(event_id):
    """Lock an event's row until the transaction ends; return it, freshly read, or None.

    PostgreSQL locks the row; SQLite has no row locks, so a write takes the
    database's write lock instead (a read first would let another writer in).
    """
    statement = _lock_event_statement(db.engine.dialect.name)
    return db.session.scalar(statement, {"event_id": event_id})


@cache
def _lock_event_statement(dialect):
    """The statement of `lock_event`, built once; the event id is bound per call."""
    if dialect == "postgresql":
        statement = select(Event).where(Event.id == bindparam("event_id")).with_for_update()
    else:
        statement = (
            update(Event)
            .where(Event.id == bindparam("event_id"))
            .values(sequence=Event.sequence)
            .returning(Event)
        )
    return statement.execution_options(populate_existing=True, synchronize_session=False)


def adjust_counters(event_id, **changes):
    """Apply `changes` (column -> SQL expression or value) to an event; return it re-read."""
    return db.session.scalar(
        update(Event)
        .where(Event.id == event_id)
        .values(**changes)
        .returning(Event)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def _earliest(expiry):
    """`next_hold_expiry` once a hold expiring at `expiry` is added."""
    return case(
        (or_(Event.next_hold_expiry.is_(None), Event.next_hold_expiry > expiry), expiry),
        else_=Event.next_hold_expiry,
    )


def take_slot(event_id, hold, locked=False):
    """Take one slot of an event if a newcomer may: one conditional UPDATE.

    :param hold: count it as held (with an expiry `HOLD_TTL_SECONDS` away)
        rather than confirmed.
    :param locked: the event is locked and settled in this transaction; if
        not, an event with a hold due to expire is left alone (None), so the
        caller settles it first.
    :returns: the event, re-read, or None if no slot was taken.
    """
    hold_seconds = current_app.config["HOLD_TTL_SECONDS"] if hold else None
    statement = _take_slot_statement(hold_seconds, locked)
    return db.session.scalar(statement, {"event_id": event_id})


@cache
def _take_slot_statement(hold_seconds, locked):
    """The UPDATE of `take_slot`, built once per kind (its construction costs
    more than its execution's Python side); the event id is bound per call.

    :param hold_seconds: the hold's time to live, or None to confirm.
    """
    now = DatabaseNow()
    conditions = [
        Event.id == bindparam("event_id"),
        Event.status == "published",
        Event.event_date > now,
        or_(Event.booking_opens_at.is_(None), Event.booking_opens_at <= now),
        or_(Event.booking_closes_at.is_(None), Event.booking_closes_at > now),
        Event.booked_count + Event.held_count + Event.waiting_count < Event.total_slots,
    ]
    if not locked:
        conditions.append(or_(Event.next_hold_expiry.is_(None), Event.next_hold_expiry > now))
    if hold_seconds is not None:
        expiry = DatabaseNow(hold_seconds)
        values = {"held_count": Event.held_count + 1, "next_hold_expiry": _earliest(expiry)}
    else:
        values = {"booked_count": Event.booked_count + 1}
    return (
        update(Event)
        .where(*conditions)
        .values(**values)
        .returning(Event)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def insert_booking(user_id, event_id, hold, ttl_seconds=None):
    """Insert a live booking unless the user has one for the event; return it or None.

    :param hold: a `held` booking expiring `ttl_seconds` from now on the
        database clock (default `HOLD_TTL_SECONDS`); else `confirmed`.
    """
    if hold and ttl_seconds is None:
        ttl_seconds = current_app.config["HOLD_TTL_SECONDS"]
    statement = _insert_booking_statement(db.engine.dialect.name, ttl_seconds if hold else None)
    values = {"booker_id": user_id, "booked_event_id": event_id, "booked_at": utcnow()}
    return db.session.scalar(statement, values)


@cache
def _insert_booking_statement(dialect, ttl_seconds):
    """The INSERT of `insert_booking`, built once per kind; the user, the
    event and the time (`booker_id`, `booked_event_id`, `booked_at`) are
    bound per call.

    :param ttl_seconds: a hold's time to live, or None to confirm.
    """
    booked_at = bindparam("booked_at", type_=Booking.created_at.type)
    if ttl_seconds is None:
        values = {"status": "confirmed", "confirmed_at": booked_at}
    else:
        values = {"status": "held", "expires_at": DatabaseNow(ttl_seconds)}
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(Booking)
        .values(
            user_id=bindparam("booker_id"),
            event_id=bindparam("booked_event_id"),
            created_at=booked_at,
            **values,
        )
        .on_conflict_do_nothing(
            index_elements=[Booking.user_id, Booking.event_id],
            index_where=Booking.status.in_(LIVE_BOOKING_STATUSES),
        )
        .returning(Booking)
        # One row with its values bound, not the ORM's bulk INSERT of many.
        .execution_options(dml_strategy="orm")
    )


def expire_due_holds(event):
    """Expire the locked event's holds that ran out; pass their offers on later.

    :returns: the expired bookings.
    """
    if event.held_count == 0:
        return []
    expired = db.session.scalars(_expire_holds_statement(), {"of_event": event.id}).all()
    if not expired:
        return []
    entries = db.session.scalars(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.booking_id.in_([booking.id for booking in expired]),
            WaitlistEntry.status == "offered",
        )
        .values(status="expired", closed_at=utcnow())
        .returning(WaitlistEntry)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).all()
    earliest = (
        select(func.min(Booking.expires_at))
        .where(Booking.event_id == event.id, Booking.status == "held")
        .scalar_subquery()
    )
    event = adjust_counters(
        event.id, held_count=Event.held_count - len(expired), next_hold_expiry=earliest
    )
    record_bookings("booking.expired", expired, event)
    record_entries("waitlist.expired", entries, event)
    return expired


@cache
def _expire_holds_statement():
    """The UPDATE expiring an event's due holds, built once; the event id is
    bound per call (`of_event`: an UPDATE reserves its columns' names)."""
    return (
        update(Booking)
        .where(
            Booking.event_id == bindparam("of_event"),
            Booking.status == "held",
            Booking.expires_at <= DatabaseNow(),
        )
        .values(status="expired")
        .returning(Booking)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def close_waitlist(event, statuses=("waiting",)):
    """Close the locked event's waitlist entries in `statuses`; return how many."""
    closed = db.session.scalars(
        update(WaitlistEntry)
        .where(WaitlistEntry.event_id == event.id, WaitlistEntry.status.in_(statuses))
        .values(status="closed", closed_at=utcnow())
        .returning(WaitlistEntry)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).all()
    if event.waiting_count:
        event = adjust_counters(event.id, waiting_count=0)
    record_entries("waitlist.closed", closed, event)
    return len(closed)


def offer_free_slots(event):
    """Offer every free slot of the locked event to the first people waiting.

    Each offer is a held booking for that user, expiring
    `WAITLIST_OFFER_TTL_SECONDS` from now, made in the caller's transaction.
    Someone who meanwhile holds a live booking for the event gets no second
    one: their entry is closed and the slot goes to the next.

    :returns: the waitlist entries offered a slot.
    """
    ttl = current_app.config["WAITLIST_OFFER_TTL_SECONDS"]
    offered, closed = [], []
    while event.waiting_count > 0:
        free = event.total_slots - event.booked_count - event.held_count
        if free <= 0:
            break
        entries = db.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(free)
            .execution_options(populate_existing=True)
        ).all()
        if not entries:  # the counter disagrees with the rows: trust the rows
            event = adjust_counters(event.id, waiting_count=0)
            break
        made = 0
        now = utcnow()
        for entry in entries:
            booking = insert_booking(entry.user_id, event.id, hold=True, ttl_seconds=ttl)
            if booking is None:
                entry.status, entry.closed_at = "closed", now
                closed.append(entry)
                continue
            entry.status, entry.offered_at, entry.booking_id = "offered", now, booking.id
            offered.append(entry)
            made += 1
        db.session.flush()
        event = adjust_counters(
            event.id,
            held_count=Event.held_count + made,
            waiting_count=Event.waiting_count - len(entries),
            next_hold_expiry=_earliest(DatabaseNow(ttl)) if made else Event.next_hold_expiry,
        )
    record_entries("waitlist.offered", offered, event)
    record_entries("waitlist.closed", closed, event)
    return offered


def settle(event):
    """Bring a locked event up to date: expire due holds, then fill or close its waitlist.

    :returns: the event, re-read.
    """
    expire_due_holds(event)
    state = event.booking_state()
    if state in ("cancelled", "past"):
        if event.waiting_count or state == "past":
            close_waitlist(event, statuses=ACTIVE_WAITLIST_STATUSES)
    elif state == "closed":
        if event.waiting_count:
            close_waitlist(event)
    elif state == "open":
        offer_free_slots(event)
    return db.session.get(Event, event.id)


def release(event, booking, status, now=None):
    """Free a live booking's slot (status `cancelled` or `expired`) and pass it on.

    The event is locked. An offer's hold released this way marks its
    waitlist entry `left`.
    """
    now = now or utcnow()
    counter = "held_count" if booking.status == "held" else "booked_count"
    left = []
    if booking.status == "held":
        left = db.session.scalars(
            update(WaitlistEntry)
            .where(WaitlistEntry.booking_id == booking.id, WaitlistEntry.status == "offered")
            .values(status="left", closed_at=now)
            .returning(WaitlistEntry)
            .execution_options(populate_existing=True, synchronize_session=False)
        ).all()
    booking.status, booking.cancelled_at = status, now
    db.session.flush()
    event = adjust_counters(event.id, **{counter: getattr(Event, counter) - 1})
    record_booking(f"booking.{status}", booking, event)
    record_entries("waitlist.left", left, event)
    return settle(event)


def due_event_ids(limit=100):
    """Return ids of events with holds past their expiry, or a waitlist to close."""
    now = DatabaseNow()
    closed = or_(
        Event.status == "cancelled",
        Event.event_date <= now,
        and_(Event.booking_closes_at.is_not(None), Event.booking_closes_at <= now),
    )
    return db.session.scalars(
        select(Event.id)
        .where(or_(Event.next_hold_expiry <= now, and_(Event.waiting_count > 0, closed)))
        .order_by(Event.id)
        .limit(limit)
    ).all()


def sweep(limit=100):
    """Settle every event whose holds ran out or whose waitlist must close.

    Each event is settled in a transaction of its own, committed here.
    Any number of processes may sweep at once: on PostgreSQL an event
    another process is settling is skipped (`SKIP LOCKED`).

    :returns: the number of events settled.
    """
    settled = 0
    for event_id in due_event_ids(limit):
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            event = db.session.scalar(
                select(Event)
                .where(Event.id == event_id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        else:
            event = lock_event(event_id)
        if event is not None:
            settle(event)
            settled += 1
        db.session.commit()
    db.session.rollback()
    return settled
