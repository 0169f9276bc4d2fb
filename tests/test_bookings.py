from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow


def book(client, headers, event_id):
    return client.post("/bookings", json={"event_id": event_id}, headers=headers)


def counts(app, event_id):
    """Return the event's counter and its number of confirmed bookings."""
    with app.app_context():
        counter = db.session.get(Event, event_id).booked_count
        rows = db.session.scalar(
            select(func.count()).where(Booking.event_id == event_id, Booking.status == "confirmed")
        )
        return counter, rows


BOOKING_FIELDS = {
    "id",
    "user_id",
    "event_id",
    "status",
    "created_at",
    "expires_at",
    "confirmed_at",
    "cancelled_at",
    "checked_in_at",
    "event",
}


def test_booking_takes_one_slot(app, client, make_user, auth_headers, make_event):
    user = make_user()
    event = make_event(total_slots=3)
    response = book(client, auth_headers(user), event.id)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == BOOKING_FIELDS
    assert body["status"] == "confirmed" and body["confirmed_at"] is not None
    assert body["expires_at"] is None
    assert (body["user_id"], body["event_id"]) == (user.id, event.id)
    assert body["event"]["booking_count"] == 1 and body["event"]["available_slots"] == 2
    assert counts(app, event.id) == (1, 1)


def test_booking_a_missing_event_is_404(client, make_user, auth_headers):
    response = book(client, auth_headers(make_user()), 12345)
    assert response.status_code == 404
    assert response.get_json() == {"error": True, "message": "Event not found", "status_code": 404}


def test_booking_twice_is_refused(app, client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    event = make_event()
    book(client, headers, event.id)
    response = book(client, headers, event.id)
    assert response.status_code == 400
    assert response.get_json()["message"] == "You have already booked this event"
    assert counts(app, event.id) == (1, 1)


def test_booking_a_full_event_is_refused(app, client, make_user, auth_headers, make_event):
    event = make_event(total_slots=1)
    assert book(client, auth_headers(make_user()), event.id).status_code == 201
    response = book(client, auth_headers(make_user()), event.id)
    assert response.status_code == 400
    assert response.get_json()["message"] == "Event is fully booked"
    assert counts(app, event.id) == (1, 1)


def test_booking_a_past_event_is_refused(app, client, make_user, auth_headers, make_event):
    event = make_event(event_date=utcnow() - timedelta(minutes=1))
    response = book(client, auth_headers(make_user()), event.id)
    assert response.status_code == 400
    assert response.get_json()["message"] == "Event has already taken place"
    assert counts(app, event.id) == (0, 0)


def test_already_booked_wins_over_full(client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    event = make_event(total_slots=1)
    book(client, headers, event.id)
    assert (
        book(client, headers, event.id).get_json()["message"]
        == "You have already booked this event"
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "event_id"),
        ({"event_id": "1"}, "event_id"),
        ({"event_id": 0}, "event_id"),
        ({"event_id": 2**31}, "event_id"),
        ({"event_id": None}, "event_id"),
        ({"event_id": 1, "user_id": 2}, "user_id"),
    ],
)
def test_booking_rejects_invalid_input(client, make_user, auth_headers, make_event, body, field):
    make_event()
    response = client.post("/bookings", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_booking_needs_a_login(client, make_event):
    event = make_event()
    assert client.post("/bookings", json={"event_id": event.id}).status_code == 401


def test_my_bookings_are_newest_first_with_their_events(
    client, make_user, auth_headers, make_event
):
    headers = auth_headers(make_user())
    first, second = make_event(title="first"), make_event(title="second")
    book(client, headers, first.id)
    book(client, headers, second.id)
    book(client, auth_headers(make_user()), first.id)  # someone else's
    response = client.get("/bookings/my", headers=headers)
    assert response.status_code == 200
    assert [b["event"]["title"] for b in response.get_json()] == ["second", "first"]
    assert response.headers["X-Total-Count"] == "2"


def test_my_bookings_page(client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    for n in range(3):
        book(client, headers, make_event(title=f"e{n}").id)
    response = client.get("/bookings/my?skip=1&limit=1", headers=headers)
    assert [b["event"]["title"] for b in response.get_json()] == ["e1"]
    assert client.get("/bookings/my?limit=101", headers=headers).status_code == 400


def test_get_booking_by_its_owner(client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    booking = book(client, headers, make_event().id).get_json()
    response = client.get(f"/bookings/{booking['id']}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == booking


@pytest.mark.parametrize("method", ["get", "delete"])
def test_another_users_booking_is_404(client, make_user, auth_headers, make_event, method):
    booking = book(client, auth_headers(make_user()), make_event().id).get_json()
    response = getattr(client, method)(
        f"/bookings/{booking['id']}", headers=auth_headers(make_user())
    )
    assert response.status_code == 404
    assert response.get_json() == {
        "error": True,
        "message": "Booking not found",
        "status_code": 404,
    }


def test_cancel_frees_the_slot(app, client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    event = make_event(total_slots=1)
    booking = book(client, headers, event.id).get_json()
    assert client.delete(f"/bookings/{booking['id']}", headers=headers).status_code == 204
    assert counts(app, event.id) == (0, 0)
    kept = client.get(f"/bookings/{booking['id']}", headers=headers).get_json()
    assert kept["status"] == "cancelled" and kept["cancelled_at"] is not None
    assert book(client, auth_headers(make_user()), event.id).status_code == 201


def test_cancelling_twice_changes_nothing_the_second_time(
    app, client, make_user, auth_headers, make_event
):
    headers = auth_headers(make_user())
    event = make_event()
    booking = book(client, headers, event.id).get_json()
    client.delete(f"/bookings/{booking['id']}", headers=headers)
    assert client.delete(f"/bookings/{booking['id']}", headers=headers).status_code == 204
    assert counts(app, event.id) == (0, 0)


def test_after_cancelling_the_same_user_can_book_again_as_a_new_booking(
    client, make_user, auth_headers, make_event
):
    headers = auth_headers(make_user())
    event = make_event()
    first = book(client, headers, event.id).get_json()
    client.delete(f"/bookings/{first['id']}", headers=headers)
    second = book(client, headers, event.id)
    assert second.status_code == 201 and second.get_json()["id"] != first["id"]


def test_cancel_after_the_event_is_refused(app, client, make_user, auth_headers, make_event):
    user = make_user()
    event = make_event(event_date=utcnow() - timedelta(hours=1), booked_count=1)
    with app.app_context():
        booking = Booking(user_id=user.id, event_id=event.id)
        db.session.add(booking)
        db.session.commit()
    response = client.delete(f"/bookings/{booking.id}", headers=auth_headers(user))
    assert response.status_code == 400
    assert response.get_json()["message"] == "Event has already taken place"
    assert counts(app, event.id) == (1, 1)


@pytest.mark.parametrize("path", ["/bookings/0", "/bookings/99999999999999999999", "/bookings/x"])
def test_impossible_booking_ids_are_404(client, make_user, auth_headers, path):
    assert client.get(path, headers=auth_headers(make_user())).status_code == 404


def test_a_page_of_bookings_past_the_end_still_counts_them(
    client, make_user, auth_headers, make_event
):
    headers = auth_headers(make_user())
    for n in range(2):
        book(client, headers, make_event(title=f"e{n}").id)
    response = client.get("/bookings/my?skip=2", headers=headers)
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "2"
