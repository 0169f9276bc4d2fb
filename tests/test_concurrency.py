"""Racing requests on PostgreSQL, from real threads: never more bookings than slots."""

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.models import Booking, Event

pytestmark = pytest.mark.postgresql


@pytest.fixture
def database_url(postgresql_database):
    return postgresql_database


@pytest.fixture
def settings(settings):
    # One connection per racing thread, so the race happens in the database.
    return {**settings, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 60, "max_overflow": 0}}


def race(app, requests):
    """Send every (method, path, body, headers) at once from its own thread."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def send(index, method, path, body, headers):
        client = app.test_client()
        barrier.wait()
        response = client.open(path, method=method, json=body, headers=headers)
        results[index] = (
            response.status_code,
            (response.get_json(silent=True) or {}).get("message"),
        )

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def counts(app, event_id):
    with app.app_context():
        counter = db.session.get(Event, event_id).booked_count
        rows = db.session.scalar(
            select(func.count()).where(Booking.event_id == event_id, Booking.status == "confirmed")
        )
        return counter, rows


def test_fifty_users_race_for_ten_slots(app, make_user, auth_headers, make_event):
    event = make_event(total_slots=10)
    requests = [
        ("POST", "/bookings", {"event_id": event.id}, auth_headers(make_user())) for _ in range(50)
    ]
    results = Counter(race(app, requests))
    assert results == {(201, None): 10, (400, "Event is fully booked"): 40}
    assert counts(app, event.id) == (10, 10)


def test_one_user_racing_ten_requests_gets_one_booking(app, make_user, auth_headers, make_event):
    event = make_event(total_slots=10)
    headers = auth_headers(make_user())
    results = Counter(race(app, [("POST", "/bookings", {"event_id": event.id}, headers)] * 10))
    assert results == {(201, None): 1, (400, "You have already booked this event"): 9}
    assert counts(app, event.id) == (1, 1)


def test_cancel_and_rebook_races_keep_the_counter_exact(
    app, client, make_user, auth_headers, make_event
):
    event = make_event(total_slots=10)
    holders = [auth_headers(make_user()) for _ in range(10)]
    booking_ids = [
        client.post("/bookings", json={"event_id": event.id}, headers=h).get_json()["id"]
        for h in holders
    ]
    newcomers = [auth_headers(make_user()) for _ in range(20)]
    # Every holder cancels twice at once, while everyone tries to book.
    cancels = [
        ("DELETE", f"/bookings/{b}", None, h) for b, h in zip(booking_ids, holders, strict=True)
    ]
    requests = cancels * 2
    requests += [("POST", "/bookings", {"event_id": event.id}, h) for h in holders + newcomers]
    results = race(app, requests)
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 204, 400}
    assert statuses[204] == 20  # a second cancel is a 204 that changes nothing
    with app.app_context():
        cancelled = db.session.scalar(
            select(func.count()).where(Booking.id.in_(booking_ids), Booking.status == "cancelled")
        )
    assert cancelled == 10
    counter, rows = counts(app, event.id)
    assert counter == rows <= 10
    assert rows == statuses[201]


def test_one_user_cancelling_and_rebooking_at_once_never_deadlocks(
    app, client, make_user, auth_headers, make_event
):
    event = make_event(total_slots=5)
    headers = auth_headers(make_user())
    for _ in range(5):
        booking = client.post("/bookings", json={"event_id": event.id}, headers=headers).get_json()
        results = race(
            app,
            [("DELETE", f"/bookings/{booking['id']}", None, headers)]
            + [("POST", "/bookings", {"event_id": event.id}, headers)] * 3,
        )
        assert {status for status, _ in results} <= {201, 204, 400}
        counter, rows = counts(app, event.id)
        assert counter == rows
        if rows:
            mine = client.get("/bookings/my", headers=headers).get_json()
            client.delete(f"/bookings/{mine[0]['id']}", headers=headers)
    assert counts(app, event.id) == (0, 0)
