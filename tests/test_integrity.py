"""`flask integrity check`: booking counters against the bookings themselves."""

from sqlalchemy import update

from eventbook.extensions import db
from eventbook.models import Booking, Event


def check(app, *options):
    return app.test_cli_runner().invoke(args=["integrity", "check", *options])


def add_bookings(app, event, users):
    with app.app_context():
        db.session.add_all(Booking(user_id=user.id, event_id=event.id) for user in users)
        db.session.commit()


def set_counter(app, event, value):
    with app.app_context():
        db.session.execute(update(Event).where(Event.id == event.id).values(booked_count=value))
        db.session.commit()


def counter(app, event):
    with app.app_context():
        return db.session.get(Event, event.id).booked_count


def test_consistent_counters_pass(app, client, make_user, auth_headers, make_event):
    event = make_event()
    client.post("/bookings", json={"event_id": event.id}, headers=auth_headers(make_user()))
    result = check(app)
    assert result.exit_code == 0
    assert "All booking counters match their bookings." in result.output


def test_a_wrong_counter_is_reported_and_fails(app, make_user, make_event):
    event = make_event(booked_count=3)
    add_bookings(app, event, [make_user()])
    result = check(app)
    assert result.exit_code == 1
    assert f"event {event.id}: booked_count mismatch: kept=3, rows=1" in result.output
    assert counter(app, event) == 3  # a check changes nothing


def test_repair_sets_counters_to_the_bookings(app, make_user, make_event):
    drifted, empty, fine = make_event(booked_count=0), make_event(booked_count=2), make_event()
    add_bookings(app, drifted, [make_user(), make_user()])
    result = check(app, "--repair")
    assert result.exit_code == 0
    assert "Repaired 2 counter(s)." in result.output
    assert (counter(app, drifted), counter(app, empty), counter(app, fine)) == (2, 0, 0)
    assert check(app).exit_code == 0


def test_an_oversold_event_is_reported_and_cannot_be_repaired(app, make_user, make_event):
    event = make_event(total_slots=1, booked_count=1)
    add_bookings(app, event, [make_user(), make_user()])
    set_counter(app, event, 1)
    result = check(app, "--repair")
    assert result.exit_code == 1
    assert (
        f"event {event.id}: OVERSOLD: 2 confirmed and held bookings for total_slots=1"
        in result.output
    )
    assert counter(app, event) == 1
