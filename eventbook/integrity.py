"""Checks that every event's counters equal the rows they count, and repairs them.

The booking operations keep them equal in every transaction, and triggers
keep the number of published events; this is for operators, to prove it
after an incident and to mend a database that was changed by hand.

Counters, per event: `booked_count` = its confirmed bookings, `held_count` =
its held bookings, `waiting_count` = its waiting waitlist entries. Beyond
counters it checks what no transaction may leave behind: more confirmed and
held bookings than slots, an `offered` entry whose booking is not held, and
free slots left while people wait on an event open for booking.
"""

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, text, update

from eventbook.extensions import db
from eventbook.models import (
    LIVE_BOOKING_STATUSES,
    Booking,
    Event,
    EventTotal,
    WaitlistEntry,
    utcnow,
)

COUNTERS = {
    "booked_count": (Booking, Booking.event_id, Booking.status == "confirmed"),
    "held_count": (Booking, Booking.event_id, Booking.status == "held"),
    "waiting_count": (WaitlistEntry, WaitlistEntry.event_id, WaitlistEntry.status == "waiting"),
}


@dataclass(frozen=True)
class Discrepancy:
    event_id: int
    counter: str
    kept: int
    rows: int
    total_slots: int

    oversold = False

    def __str__(self):
        return f"event {self.event_id}: {self.counter} mismatch: kept={self.kept}, rows={self.rows}"


@dataclass(frozen=True)
class Oversold:
    event_id: int
    taken: int
    total_slots: int

    oversold = True

    def __str__(self):
        return (
            f"event {self.event_id}: OVERSOLD: {self.taken} confirmed and held bookings "
            f"for total_slots={self.total_slots}"
        )


@dataclass(frozen=True)
class BrokenOffer:
    entry_id: int
    booking_status: str | None

    oversold = False

    def __str__(self):
        return f"waitlist entry {self.entry_id}: offered, but its booking is {self.booking_status}"


@dataclass(frozen=True)
class UnofferedSlots:
    event_id: int
    free: int
    waiting: int

    oversold = False

    def __str__(self):
        return f"event {self.event_id}: {self.free} free slots while {self.waiting} people wait"


@dataclass(frozen=True)
class TotalDiscrepancy:
    kept: int
    events: int

    oversold = False

    def __str__(self):
        return f"number of events: counter mismatch: kept={self.kept}, events={self.events}"


def _event_total_discrepancy():
    kept = db.session.scalar(select(EventTotal.events))
    events = db.session.scalar(
        select(func.count()).select_from(Event).where(Event.status == "published")
    )
    return [] if kept == events else [TotalDiscrepancy(kept, events)]


def _actual(counter):
    model, event_id, condition = COUNTERS[counter]
    return (
        select(func.count())
        .select_from(model)
        .where(event_id == Event.id, condition)
        .correlate(Event)
        .scalar_subquery()
    )


def _counter_discrepancies():
    found = []
    for counter in COUNTERS:
        actual = _actual(counter)
        rows = db.session.execute(
            select(Event.id, getattr(Event, counter), actual, Event.total_slots)
            .where(getattr(Event, counter) != actual)
            .order_by(Event.id)
        )
        found += [Discrepancy(row[0], counter, row[1], row[2], row[3]) for row in rows]
    return found


def _oversold():
    taken = select(func.count()).where(
        Booking.event_id == Event.id, Booking.status.in_(LIVE_BOOKING_STATUSES)
    )
    taken = taken.correlate(Event).scalar_subquery()
    rows = db.session.execute(
        select(Event.id, taken, Event.total_slots).where(taken > Event.total_slots)
    )
    return [Oversold(*row) for row in rows]


def _broken_offers():
    rows = db.session.execute(
        select(WaitlistEntry.id, Booking.status)
        .outerjoin(Booking, Booking.id == WaitlistEntry.booking_id)
        .where(
            WaitlistEntry.status == "offered",
            or_(Booking.id.is_(None), Booking.status != "held"),
        )
    )
    return [BrokenOffer(*row) for row in rows]


def _unoffered_slots(now):
    """Free slots on an open event while people wait: a fairness failure."""
    free = Event.total_slots - Event.booked_count - Event.held_count
    rows = db.session.execute(
        select(Event.id, free, Event.waiting_count).where(
            Event.status == "published",
            Event.waiting_count > 0,
            free > 0,
            Event.event_date > now,
            or_(Event.booking_closes_at.is_(None), Event.booking_closes_at > now),
            or_(Event.booking_opens_at.is_(None), Event.booking_opens_at <= now),
            # Holds past their expiry are handed on by the sweeper, not yet here.
            or_(Event.next_hold_expiry.is_(None), Event.next_hold_expiry > now),
        )
    )
    return [UnofferedSlots(*row) for row in rows]


def find_discrepancies(now=None):
    """Return every counter that differs from its rows, every oversold event, every
    broken offer, every event leaving slots unoffered while people wait, and the
    number of published events if it differs from the one kept."""
    now = now or utcnow()
    return (
        _counter_discrepancies()
        + _oversold()
        + _broken_offers()
        + _unoffered_slots(now)
        + _event_total_discrepancy()
    )


def repaired(found):
    """Return the problems among `found` that `repair_counters` mends: every counter
    and the number of events, except the counters of an oversold event."""
    oversold = {d.event_id for d in found if isinstance(d, Oversold)}
    return [
        d
        for d in found
        if isinstance(d, TotalDiscrepancy)
        or (isinstance(d, Discrepancy) and d.event_id not in oversold)
    ]


def repair_counters():
    """Set every counter to the rows it counts, and the number of events to the
    published events, in one transaction; the caller commits.

    Writes to events, bookings and the waitlist wait meanwhile. An oversold
    event cannot be repaired this way and is left as it is.

    :returns: the problems found, before the repair.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE events, bookings, waitlist_entries IN EXCLUSIVE MODE"))
    found = find_discrepancies()
    if any(isinstance(d, TotalDiscrepancy) for d in found):
        published = select(func.count()).select_from(Event).where(Event.status == "published")
        db.session.execute(update(EventTotal).values(events=published.scalar_subquery()))
    oversold = {d.event_id for d in found if isinstance(d, Oversold)}
    for counter in COUNTERS:
        ids = [
            d.event_id
            for d in found
            if isinstance(d, Discrepancy) and d.counter == counter and d.event_id not in oversold
        ]
        if ids:
            db.session.execute(
                update(Event)
                .where(and_(Event.id.in_(ids)))
                .values({counter: _actual(counter)})
                .execution_options(synchronize_session=False)
            )
    return found
