"""OWASP API1:2023 Broken Object Level Authorization.

Nobody reaches another user's booking (it does not exist for them: 404), and
only an event's organiser changes or deletes it (403).
"""

import pytest

from eventbook.extensions import db
from eventbook.models import Booking, Event
from tests.security.test_api2_broken_authentication import needs_token

# Every authenticated operation on one object named in its path, and what a
# caller who does not own that object gets.
FOREIGN_OBJECT_ANSWERS = {
    ("GET", "/bookings/{booking_id}"): 404,
    ("DELETE", "/bookings/{booking_id}"): 404,
    ("POST", "/bookings/{booking_id}/confirm"): 404,
    ("DELETE", "/waitlist/{entry_id}"): 404,
    ("PATCH", "/events/{event_id}"): 403,
    ("DELETE", "/events/{event_id}"): 403,
    ("POST", "/events/{event_id}/publish"): 403,
    ("POST", "/events/{event_id}/cancel"): 403,
    # tests/test_webhooks.py tries these as another user
    ("GET", "/webhooks/{subscription_id}"): 404,
    ("PATCH", "/webhooks/{subscription_id}"): 404,
    ("DELETE", "/webhooks/{subscription_id}"): 404,
    ("GET", "/webhooks/{subscription_id}/deliveries"): 404,
    ("POST", "/webhooks/{subscription_id}/deliveries/{delivery_id}/retry"): 404,
}
# Operations on an object that any user may call: they ask for nothing its
# owner has.
PUBLIC_OBJECT_OPERATIONS = {("POST", "/events/{event_id}/waitlist")}


def test_every_authenticated_operation_on_an_object_is_covered(client):
    spec = client.get("/openapi.json").get_json()
    operations = {
        (method.upper(), path)
        for path, items in spec["paths"].items()
        for method, operation in items.items()
        if method != "parameters" and "{" in path and needs_token(operation)
    }
    assert operations == set(FOREIGN_OBJECT_ANSWERS) | PUBLIC_OBJECT_OPERATIONS


@pytest.fixture
def owners_booking(client, make_user, make_event, auth_headers):
    owner = make_user()
    response = client.post(
        "/bookings", json={"event_id": make_event().id}, headers=auth_headers(owner)
    )
    assert response.status_code == 201
    return response.get_json()


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_users_booking_is_not_found(
    app, client, make_user, auth_headers, owners_booking, method
):
    response = client.open(
        f"/bookings/{owners_booking['id']}", method=method, headers=auth_headers(make_user())
    )
    assert response.status_code == FOREIGN_OBJECT_ANSWERS[(method, "/bookings/{booking_id}")]
    assert response.get_json() == {
        "error": True,
        "message": "Booking not found",
        "status_code": 404,
    }
    with app.app_context():
        assert db.session.get(Booking, owners_booking["id"]) is not None


def test_my_bookings_lists_only_mine(client, make_user, auth_headers, owners_booking):
    response = client.get("/bookings/my", headers=auth_headers(make_user()))
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("organised_by", ["another user", "nobody (seeded)"])
@pytest.mark.parametrize(
    "method, body", [("PATCH", {"title": "Taken over"}), ("DELETE", None)], ids=["PATCH", "DELETE"]
)
def test_only_the_organiser_changes_an_event(
    app, client, make_user, make_event, auth_headers, organised_by, method, body
):
    organizer_id = make_user().id if organised_by == "another user" else None
    event = make_event(organizer_id=organizer_id, title="Original")
    response = client.open(
        f"/events/{event.id}", method=method, json=body, headers=auth_headers(make_user())
    )
    assert response.status_code == FOREIGN_OBJECT_ANSWERS[(method, "/events/{event_id}")]
    assert response.get_json()["message"] == "Only the organizer of this event can change it"
    with app.app_context():
        assert db.session.get(Event, event.id).title == "Original"


@pytest.mark.parametrize(
    "method, body", [("PATCH", {"title": "Renamed"}), ("DELETE", None)], ids=["PATCH", "DELETE"]
)
def test_the_organiser_does_change_it(client, make_user, make_event, auth_headers, method, body):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id)
    response = client.open(
        f"/events/{event.id}", method=method, json=body, headers=auth_headers(organizer)
    )
    assert response.status_code in (200, 204)
