"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows.

OWASP's own example is an attacker who reserves all the available slots.
One user holds at most one slot of an event, and books at most
`BOOKING_RATE_LIMIT` times a minute (every request counts).
"""

import pytest

from config import RATE_LIMIT_DEFAULTS
from eventbook.extensions import db
from eventbook.models import Event


@pytest.fixture
def settings(settings):
    return {**settings, "BOOKING_RATE_LIMIT": RATE_LIMIT_DEFAULTS["BOOKING_RATE_LIMIT"]}


def book(client, headers, event_id):
    return client.post("/bookings", json={"event_id": event_id}, headers=headers)


@pytest.mark.parametrize("events", ["one event", "a new event each time"])
def test_the_per_user_booking_limit_holds(client, make_user, make_event, auth_headers, events):
    headers = auth_headers(make_user())
    shared = make_event(total_slots=100)
    event_ids = [shared.id if events == "one event" else make_event().id for _ in range(6)]
    statuses = [book(client, headers, event_id).status_code for event_id in event_ids]
    assert statuses[-1] == 429
    assert 429 not in statuses[:5]


def test_one_user_cannot_hold_two_slots_of_an_event(
    app, client, make_user, make_event, auth_headers
):
    event = make_event(total_slots=3)
    headers = auth_headers(make_user())
    statuses = [book(client, headers, event.id).status_code for _ in range(3)]
    assert statuses == [201, 400, 400]
    with app.app_context():
        assert db.session.get(Event, event.id).booked_count == 1
    assert client.get(f"/events/{event.id}").get_json()["available_slots"] == 2


def test_cancelling_and_booking_again_still_holds_one_slot(
    app, client, make_user, make_event, auth_headers
):
    event = make_event(total_slots=3)
    headers = auth_headers(make_user())
    booking_id = book(client, headers, event.id).get_json()["id"]
    assert client.delete(f"/bookings/{booking_id}", headers=headers).status_code == 204
    assert book(client, headers, event.id).status_code == 201
    assert book(client, headers, event.id).status_code == 400
    with app.app_context():
        assert db.session.get(Event, event.id).booked_count == 1
