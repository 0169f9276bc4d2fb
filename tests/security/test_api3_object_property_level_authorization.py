"""OWASP API3:2023 Broken Object Property Level Authorization.

No write accepts a property it does not document (so nobody sets an id, a
counter, an owner or a role), and no response shows a password hash or
another user's email.
"""

import json

import pytest

from eventbook.extensions import db
from eventbook.models import Event
from tests.conftest import PASSWORD
from tests.security.writes import WRITE_NAMES, documented_writes, valid_writes, write_params

SMUGGLED = ["id", "user_id", "organizer_id", "booked_count", "is_admin", "password_hash"]


@pytest.fixture
def organiser(make_user, make_event, auth_headers):
    user = make_user()
    return make_event(organizer_id=user.id), auth_headers(user)


def test_every_write_is_covered(client):
    assert documented_writes(client) == set(WRITE_NAMES)


@write_params()
@pytest.mark.parametrize("field", SMUGGLED)
def test_every_write_refuses_an_undocumented_property(app, client, organiser, write, field):
    event, headers = organiser
    method, path, body = valid_writes(event.id)[write]
    response = client.open(path, method=method, json={**body, field: 1}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {field: ["Unknown field."]}
    with app.app_context():
        stored = db.session.get(Event, event.id)
        assert (stored.title, stored.booked_count) == ("Test event", 0)


def walk(value):
    """Yield every key and string in a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)
    elif isinstance(value, str):
        yield value


def test_no_response_shows_a_password_hash_or_another_users_email(client, make_user, make_event):
    other = make_user(email="other.person@example.com")
    theirs = make_event(organizer_id=other.id)
    registered = client.post(
        "/auth/register",
        json={"name": "Me", "email": "me@example.com", "password": PASSWORD},
    )
    tokens = client.post(
        "/auth/login", json={"email": "me@example.com", "password": PASSWORD}
    ).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    booking = client.post("/bookings", json={"event_id": theirs.id}, headers=headers)
    created = client.post(
        "/events",
        json={
            "title": "Mine",
            "location": "Here",
            "event_date": "2099-01-01T00:00:00+00:00",
            "total_slots": 3,
        },
        headers=headers,
    )
    responses = [
        registered,
        booking,
        created,
        client.get("/auth/me", headers=headers),
        client.get("/events"),
        client.get(f"/events/{theirs.id}"),
        client.get("/events/top-booked"),
        client.get("/bookings/my", headers=headers),
        client.get(f"/bookings/{booking.get_json()['id']}", headers=headers),
        client.patch(f"/events/{created.get_json()['id']}", json={"title": "M"}, headers=headers),
    ]
    assert [response.status_code for response in responses] == [201] * 3 + [200] * 7
    for response in responses:
        body = response.get_json()
        strings = list(walk(body))
        assert not [s for s in strings if "password" in s.lower()], body
        assert not [s for s in strings if s.startswith("$2")], body
        assert other.email not in json.dumps(body)
