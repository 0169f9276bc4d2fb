"""Check-in at the door (SPEC 8): once, by the event's organiser, for a confirmed booking."""

import pytest

from eventbook.attendees.operations import AlreadyCheckedIn, NotCheckedInStatus, check_in
from eventbook.extensions import db
from eventbook.models import Booking


@pytest.fixture
def organiser(make_user):
    return make_user()


@pytest.fixture
def event(make_event, organiser):
    return make_event(organizer_id=organiser.id)


@pytest.fixture
def attendee(make_user):
    return make_user()


def book(client, headers, event, hold=False):
    response = client.post("/bookings", json={"event_id": event.id, "hold": hold}, headers=headers)
    assert response.status_code == 201
    return response.get_json()


def check_in_response(client, booking, headers):
    return client.post(f"/bookings/{booking['id']}/check-in", headers=headers)


def test_the_organiser_checks_a_confirmed_booking_in(
    app, client, auth_headers, organiser, attendee, event
):
    booking = book(client, auth_headers(attendee), event)
    response = check_in_response(client, booking, auth_headers(organiser))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == booking["id"]
    assert body["status"] == "confirmed"
    assert body["checked_in_at"] is not None
    assert body["event"]["id"] == event.id
    with app.app_context():
        stored = db.session.get(Booking, booking["id"])
        assert stored.status == "confirmed"
        assert stored.checked_in_at.isoformat() == body["checked_in_at"]


def test_a_second_check_in_is_409(client, auth_headers, organiser, attendee, event):
    booking = book(client, auth_headers(attendee), event)
    first = check_in_response(client, booking, auth_headers(organiser)).get_json()
    response = check_in_response(client, booking, auth_headers(organiser))
    assert response.status_code == 409
    assert response.get_json() == {
        "error": True,
        "message": "Already checked in",
        "status_code": 409,
    }
    mine = client.get(f"/bookings/{booking['id']}", headers=auth_headers(attendee)).get_json()
    assert mine["checked_in_at"] == first["checked_in_at"]


@pytest.mark.parametrize("how", ["held", "cancelled", "event_cancelled"])
def test_only_a_confirmed_booking_is_checked_in(
    app, client, auth_headers, organiser, attendee, event, how
):
    booking = book(client, auth_headers(attendee), event, hold=how == "held")
    if how == "cancelled":
        client.delete(f"/bookings/{booking['id']}", headers=auth_headers(attendee))
    if how == "event_cancelled":
        client.post(f"/events/{event.id}/cancel", headers=auth_headers(organiser))
    response = check_in_response(client, booking, auth_headers(organiser))
    assert response.status_code == 400
    assert response.get_json()["message"] == "Only confirmed bookings can be checked in"
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).checked_in_at is None


def test_the_owner_who_does_not_organise_is_403(client, auth_headers, attendee, event):
    booking = book(client, auth_headers(attendee), event)
    response = check_in_response(client, booking, auth_headers(attendee))
    assert response.status_code == 403


def test_anyone_else_gets_404(client, make_user, auth_headers, attendee, event):
    booking = book(client, auth_headers(attendee), event)
    for target in (booking, {"id": 999_999}):
        response = check_in_response(client, target, auth_headers(make_user()))
        assert response.status_code == 404
        assert response.get_json()["message"] == "Booking not found"


def test_an_organiser_checks_their_own_booking_in(client, auth_headers, organiser, event):
    booking = book(client, auth_headers(organiser), event)
    assert check_in_response(client, booking, auth_headers(organiser)).status_code == 200


def test_a_retry_with_the_same_key_replays_the_first_answer(
    client, auth_headers, organiser, attendee, event
):
    booking = book(client, auth_headers(attendee), event)
    headers = {**auth_headers(organiser), "Idempotency-Key": "door-1"}
    first = check_in_response(client, booking, headers)
    retry = check_in_response(client, booking, headers)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    again = check_in_response(client, booking, {**headers, "Idempotency-Key": "door-2"})
    assert again.status_code == 409


def test_the_same_key_on_another_booking_is_400(
    client, make_user, auth_headers, organiser, attendee, event
):
    one = book(client, auth_headers(attendee), event)
    other = book(client, auth_headers(make_user()), event)
    headers = {**auth_headers(organiser), "Idempotency-Key": "door-1"}
    assert check_in_response(client, one, headers).status_code == 200
    response = check_in_response(client, other, headers)
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "This Idempotency-Key was already used with a different request"
    )


def test_a_refusal_is_replayed_too(client, auth_headers, organiser, attendee, event):
    booking = book(client, auth_headers(attendee), event, hold=True)
    headers = {**auth_headers(organiser), "Idempotency-Key": "door-1"}
    first = check_in_response(client, booking, headers)
    client.post(f"/bookings/{booking['id']}/confirm", headers=auth_headers(attendee))
    retry = check_in_response(client, booking, headers)
    assert first.status_code == retry.status_code == 400
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_the_operation_raises_domain_errors(app, client, auth_headers, organiser, attendee, event):
    confirmed = book(client, auth_headers(attendee), event)
    with app.app_context():
        check_in(organiser.id, confirmed["id"])
        db.session.commit()
        with pytest.raises(AlreadyCheckedIn):
            check_in(organiser.id, confirmed["id"])
    held = book(client, auth_headers(organiser), event, hold=True)
    with app.app_context(), pytest.raises(NotCheckedInStatus):
        check_in(organiser.id, held["id"])
