"""Checks that every event's booking counter equals its bookings, and repairs it.

The booking operations keep the two equal in every transaction, and triggers
keep the number of events; this is for operators, to prove it after an
incident and to mend a database that was changed by hand.
"""

from dataclasses import dataclass

from sqlalchemy import func, or_, select, text, update

from eventbook.extensions import db
from eventbook.models import Booking, Event, EventTotal


@dataclass(frozen=True)
class Discrepancy:
    event_id: int
    booked_count: int
    bookings: int
    total_slots: int

    @property
    def oversold(self):
        return self.bookings > self.total_slots

    def __str__(self):
        problem = "OVERSOLD" if self.oversold else "counter mismatch"
        return (
            f"event {self.event_id}: {problem}: booked_count={self.booked_count}, "
            f"bookings={self.bookings}, total_slots={self.total_slots}"
        )


@dataclass(frozen=True)
class TotalDiscrepancy:
    kept: int
    events: int

    oversold = False

    def __str__(self):
        return f"number of events: counter mismatch: kept={self.kept}, events={self.events}"


def _event_total_discrepancy():
    kept = db.session.scalar(select(EventTotal.events))
    events = db.session.scalar(select(func.count()).select_from(Event))
    return [] if kept == events else [TotalDiscrepancy(kept, events)]


def _booking_counts():
    return (
        select(Booking.event_id, func.count().label("bookings"))
        .group_by(Booking.event_id)
        .subquery()
    )


def find_discrepancies():
    """Return every event whose counter differs from its bookings or exceeds its
    slots, and the number of events if it differs from the events."""
    counts = _booking_counts()
    bookings = func.coalesce(counts.c.bookings, 0)
    rows = db.session.execute(
        select(Event.id, Event.booked_count, bookings, Event.total_slots)
        .outerjoin(counts, counts.c.event_id == Event.id)
        .where(or_(Event.booked_count != bookings, bookings > Event.total_slots))
        .order_by(Event.id)
    )
    return [Discrepancy(*row) for row in rows] + _event_total_discrepancy()


def repair_counters():
    """Set every counter to its number of bookings, and the number of events to
    the events, in one transaction; the caller commits.

    Writes to events and bookings wait meanwhile, so no booking can slip in
    between counting and updating. An event with more bookings than slots
    cannot be repaired this way and is left as it is.

    :returns: the discrepancies found, before the repair.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE events, bookings IN EXCLUSIVE MODE"))
    found = find_discrepancies()
    if any(isinstance(d, TotalDiscrepancy) for d in found):
        db.session.execute(
            update(EventTotal).values(
                events=select(func.count()).select_from(Event).scalar_subquery()
            )
        )
    repairable = [d.event_id for d in found if isinstance(d, Discrepancy) and not d.oversold]
    if repairable:
        actual = (
            select(func.count())
            .where(Booking.event_id == Event.id)
            .correlate(Event)
            .scalar_subquery()
        )
        db.session.execute(
            update(Event)
            .where(Event.id.in_(repairable))
            .values(booked_count=actual)
            .execution_options(synchronize_session=False)
        )
    return found
