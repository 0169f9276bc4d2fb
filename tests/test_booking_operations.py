"""The booking workflow without HTTP, and the database rules behind it."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from eventbook.bookings import operations
from eventbook.events.operations import EventNotFound
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow


def test_book_event_increments_the_counter_in_the_same_transaction(ctx, make_user, make_event):
    user, event = make_user(), make_event(total_slots=2)
    booking = operations.book_event(user.id, event.id)
    assert booking.event.booked_count == 1
    db.session.rollback()
    assert db.session.get(Event, event.id, populate_existing=True).booked_count == 0
    assert db.session.query(Booking).count() == 0


@pytest.mark.parametrize(
    "event_fields, error",
    [
        ({"total_slots": 1, "booked_count": 1}, operations.EventFull),
        ({"event_date": utcnow() - timedelta(seconds=1)}, operations.EventPast),
    ],
)
def test_book_event_refusals(ctx, make_user, make_event, event_fields, error):
    event = make_event(**event_fields)
    with pytest.raises(error):
        operations.book_event(make_user().id, event.id)


def test_book_event_on_a_missing_event(ctx, make_user):
    with pytest.raises(EventNotFound):
        operations.book_event(make_user().id, 404)


def test_a_duplicate_booking_gives_its_slot_back(ctx, make_user, make_event):
    user, event = make_user(), make_event()
    operations.book_event(user.id, event.id)
    db.session.commit()
    with pytest.raises(operations.AlreadyBooked):
        operations.book_event(user.id, event.id)
    db.session.rollback()
    assert db.session.get(Event, event.id, populate_existing=True).booked_count == 1


def test_the_database_refuses_more_bookings_than_slots(ctx, make_event):
    event = make_event(total_slots=2, booked_count=2)
    with pytest.raises(IntegrityError):
        db.session.execute(update(Event).where(Event.id == event.id).values(booked_count=3))
        db.session.flush()


def test_the_database_refuses_a_negative_counter(ctx, make_event):
    event = make_event()
    with pytest.raises(IntegrityError):
        db.session.execute(update(Event).where(Event.id == event.id).values(booked_count=-1))
        db.session.flush()


def test_the_database_refuses_two_bookings_of_one_user_for_one_event(ctx, make_user, make_event):
    user, event = make_user(), make_event()
    db.session.add_all([Booking(user_id=user.id, event_id=event.id) for _ in range(2)])
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_cancel_booking_releases_the_slot(ctx, make_user, make_event):
    user, event = make_user(), make_event()
    booking = operations.book_event(user.id, event.id)
    db.session.commit()
    operations.cancel_booking(user.id, booking.id)
    db.session.commit()
    assert db.session.get(Event, event.id, populate_existing=True).booked_count == 0


def test_cancel_booking_of_someone_else(ctx, make_user, make_event):
    booking = operations.book_event(make_user().id, make_event().id)
    db.session.commit()
    with pytest.raises(operations.BookingNotFound):
        operations.cancel_booking(make_user().id, booking.id)
