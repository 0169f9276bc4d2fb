"""The application with an overselling booking path, for the cluster tests' control run.

It books the way the original project did: count the bookings, compare with
the slots, insert. Concurrent requests all see a free slot and all insert.
The cluster tests serve this module to prove that their race scenario would
catch such a defect. The product never imports it, and no setting enables it.

A short pause between the count and the insert stands for the work a real
handler does there. It makes the race certain rather than likely, so the
control run cannot pass by luck when the requests happen to arrive one by one.
"""

import time

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from eventbook import create_app
from eventbook.bookings import operations
from eventbook.events.operations import EventNotFound
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow

RACE_WINDOW_SECONDS = 0.05


def check_then_insert(user_id, event_id, hold=False):
    """Book without the conditional update: the race the real path closes."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    taken = db.session.scalar(
        select(func.count()).where(
            Booking.event_id == event_id, Booking.status.in_(("held", "confirmed"))
        )
    )
    if taken >= event.total_slots:
        raise operations.EventFull()
    time.sleep(RACE_WINDOW_SECONDS)
    now = utcnow()
    booking = Booking(user_id=user_id, event_id=event_id, created_at=now, confirmed_at=now)
    db.session.add(booking)
    db.session.flush()
    set_committed_value(booking, "event", event)
    return booking


operations.book_event = check_then_insert
app = create_app()
