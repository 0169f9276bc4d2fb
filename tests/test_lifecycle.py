"""The booking lifecycle (SPEC 7): holds, confirmation, expiry, drafts, cancelled events,
booking windows and the cancellation deadline."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.integrity import find_discrepancies
from eventbook.models import Booking, Event, utcnow
from tests.conftest import SHORT_TTL

# No hold or offer runs out by itself while a test runs, however busy the
# machine; a test about expiry shortens the TTL for itself (`short_ttl`).
LONG_TTL = 600
HOLD_TTL = SHORT_TTL


@pytest.fixture
def settings(settings):
    return {**settings, "HOLD_TTL_SECONDS": LONG_TTL, "WAITLIST_OFFER_TTL_SECONDS": LONG_TTL}


def post(client, path, headers, **body):
    return client.post(path, json=body, headers=headers)


def hold(client, headers, event_id):
    return post(client, "/bookings", headers, event_id=event_id, hold=True)


def event_json(client, event_id, headers=None):
    return client.get(f"/events/{event_id}", headers=headers or {}).get_json()


def assert_consistent(app):
    with app.app_context():
        assert find_discrepancies() == []


def test_a_hold_takes_a_slot_until_it_expires(
    app, client, make_user, auth_headers, make_event, short_ttl
):
    event = make_event(total_slots=1)
    headers = auth_headers(make_user())
    response = hold(client, headers, event.id)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "held" and body["confirmed_at"] is None
    assert body["event"]["held_slots"] == 1 and body["event"]["available_slots"] == 0
    assert hold(client, auth_headers(make_user()), event.id).get_json()["message"] == (
        "Event is fully booked"
    )
    time.sleep(HOLD_TTL + 0.2)
    # On the database clock, at once, with no job having run.
    assert event_json(client, event.id)["available_slots"] == 1
    mine = client.get(f"/bookings/{body['id']}", headers=headers).get_json()
    assert mine["status"] == "expired"
    assert client.get("/bookings/my", headers=headers).get_json() == []
    assert hold(client, headers, event.id).status_code == 201  # the same user, at once
    assert_consistent(app)


def test_confirming_a_hold_makes_it_confirmed_once(
    app, client, make_user, auth_headers, make_event
):
    event = make_event(total_slots=2)
    headers = auth_headers(make_user())
    booking = hold(client, headers, event.id).get_json()
    first = post(client, f"/bookings/{booking['id']}/confirm", headers)
    assert first.status_code == 200
    assert first.get_json()["status"] == "confirmed" and first.get_json()["confirmed_at"]
    assert first.get_json()["expires_at"] is None
    again = post(client, f"/bookings/{booking['id']}/confirm", headers)
    assert again.status_code == 200 and again.get_json() == first.get_json() | {
        "event": again.get_json()["event"]
    }
    shown = event_json(client, event.id)
    assert (shown["booking_count"], shown["held_slots"], shown["available_slots"]) == (1, 0, 1)
    assert_consistent(app)


def test_an_expired_hold_cannot_be_confirmed(
    app, client, make_user, auth_headers, make_event, short_ttl
):
    event = make_event()
    headers = auth_headers(make_user())
    booking = hold(client, headers, event.id).get_json()
    time.sleep(HOLD_TTL + 0.2)
    response = post(client, f"/bookings/{booking['id']}/confirm", headers)
    assert (response.status_code, response.get_json()["message"]) == (400, "Hold has expired")
    assert_consistent(app)


def test_a_released_hold_cannot_be_confirmed(app, client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    booking = hold(client, headers, make_event().id).get_json()
    assert client.delete(f"/bookings/{booking['id']}", headers=headers).status_code == 204
    response = post(client, f"/bookings/{booking['id']}/confirm", headers)
    assert response.get_json()["message"] == "Booking has been cancelled"


def test_someone_elses_booking_cannot_be_confirmed(client, make_user, auth_headers, make_event):
    booking = hold(client, auth_headers(make_user()), make_event().id).get_json()
    response = post(client, f"/bookings/{booking['id']}/confirm", auth_headers(make_user()))
    assert response.status_code == 404


def test_my_bookings_filter_by_status(client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    kept = post(client, "/bookings", headers, event_id=make_event().id).get_json()
    dropped = post(client, "/bookings", headers, event_id=make_event().id).get_json()
    client.delete(f"/bookings/{dropped['id']}", headers=headers)

    def ids(query):
        return [b["id"] for b in client.get(f"/bookings/my{query}", headers=headers).get_json()]

    assert ids("") == [kept["id"]]
    assert ids("?status=cancelled") == [dropped["id"]]
    assert ids("?status=all") == [dropped["id"], kept["id"]]
    assert ids("?status=confirmed,cancelled") == [dropped["id"], kept["id"]]
    response = client.get("/bookings/my?status=gone", headers=headers)
    assert response.status_code == 400 and "status" in response.get_json()["errors"]


def test_a_draft_is_seen_and_published_by_its_organiser_only(
    client, make_user, auth_headers, make_event
):
    organizer = make_user()
    mine = auth_headers(organizer)
    other = auth_headers(make_user())
    event = make_event(organizer_id=organizer.id, status="draft")
    assert client.get(f"/events/{event.id}").status_code == 404
    assert client.get(f"/events/{event.id}", headers=other).status_code == 404
    assert event_json(client, event.id, mine)["status"] == "draft"
    assert client.get("/events").get_json() == []
    assert [e["id"] for e in client.get("/events?mine=true", headers=mine).get_json()] == [event.id]
    assert post(client, "/bookings", other, event_id=event.id).status_code == 404
    own = post(client, "/bookings", mine, event_id=event.id)
    assert own.get_json()["message"] == "Booking is not open yet"
    assert post(client, f"/events/{event.id}/publish", other).status_code == 404
    published = post(client, f"/events/{event.id}/publish", mine)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert client.get("/events").headers["X-Total-Count"] == "1"
    assert post(client, "/bookings", other, event_id=event.id).status_code == 201


@pytest.mark.parametrize(
    "path", ["/events/{id}", "/events", "/events/top-booked", "/events/{id}/calendar.ics"]
)
def test_an_invalid_token_on_a_public_read_is_401(client, make_event, path):
    event = make_event()
    url = path.format(id=event.id)
    assert client.get(url).status_code == 200
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(url, headers={"authorization": "bearer nope"}).status_code == 401


def test_tokens_are_read_from_the_authorization_header_only(app):
    # A public read without that header is anonymous at once (events.routes.caller_id).
    assert app.config["JWT_TOKEN_LOCATION"] == ["headers"]
    assert app.config["JWT_HEADER_NAME"] == "Authorization"


def test_mine_needs_a_token(client):
    assert client.get("/events?mine=true").status_code == 401


def test_cancelling_an_event_cancels_its_live_bookings_and_closes_its_waitlist(
    app, client, make_user, auth_headers, make_event
):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id, total_slots=2)
    confirmed = post(client, "/bookings", auth_headers(make_user()), event_id=event.id)
    held = hold(client, auth_headers(make_user()), event.id)
    waiting = post(client, f"/events/{event.id}/waitlist", auth_headers(make_user()))
    assert waiting.status_code == 201
    response = post(client, f"/events/{event.id}/cancel", auth_headers(organizer), reason="Rain")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled" and body["cancellation_reason"] == "Rain"
    assert (body["booking_count"], body["held_slots"], body["waitlist_count"]) == (0, 0, 0)
    with app.app_context():
        statuses = db.session.scalars(select(Booking.status).order_by(Booking.id)).all()
    assert statuses == ["event_cancelled", "event_cancelled"]
    assert confirmed.status_code == held.status_code == 201
    assert client.get(f"/events/{event.id}").status_code == 200
    assert client.get("/events").get_json() == []
    assert client.get("/events/top-booked").get_json() == []
    again = post(client, f"/events/{event.id}/cancel", auth_headers(organizer))
    assert (again.status_code, again.get_json()["message"]) == (400, "Event has been cancelled")
    late = post(client, "/bookings", auth_headers(make_user()), event_id=event.id)
    assert late.get_json()["message"] == "Event has been cancelled"
    patched = client.patch(
        f"/events/{event.id}", json={"title": "x"}, headers=auth_headers(organizer)
    )
    assert patched.get_json()["message"] == "Event has been cancelled"
    assert_consistent(app)


def test_only_the_organiser_cancels(client, make_user, auth_headers, make_event):
    event = make_event(organizer_id=make_user().id)
    response = post(client, f"/events/{event.id}/cancel", auth_headers(make_user()))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "window, message",
    [
        ({"booking_opens_at": timedelta(days=1)}, "Booking is not open yet"),
        ({"booking_closes_at": -timedelta(minutes=1)}, "Booking has closed"),
        ({"event_date": -timedelta(minutes=1)}, "Event has already taken place"),
    ],
    ids=["not open", "closed", "past"],
)
def test_booking_windows_refuse_with_their_reason(
    app, client, make_user, auth_headers, make_event, window, message
):
    now = utcnow()
    fields = {name: now + delta for name, delta in window.items()}
    event = make_event(**fields)
    response = post(client, "/bookings", auth_headers(make_user()), event_id=event.id)
    assert (response.status_code, response.get_json()["message"]) == (400, message)
    assert event_json(client, event.id)["available_slots"] == 0
    assert_consistent(app)


def test_refusals_follow_the_precedence(client, make_user, auth_headers, make_event):
    user = make_user()
    headers = auth_headers(user)
    event = make_event(total_slots=1)
    post(client, "/bookings", headers, event_id=event.id)
    # Full and already booked: already booked comes first.
    assert post(client, "/bookings", headers, event_id=event.id).get_json()["message"] == (
        "You have already booked this event"
    )


def test_the_cancellation_deadline_binds_confirmed_bookings_not_holds(
    app, client, make_user, auth_headers, make_event
):
    event = make_event(cancellation_deadline=utcnow() - timedelta(minutes=1))
    headers = auth_headers(make_user())
    confirmed = post(client, "/bookings", headers, event_id=event.id).get_json()
    response = client.delete(f"/bookings/{confirmed['id']}", headers=headers)
    assert (response.status_code, response.get_json()["message"]) == (
        400,
        "Cancellation deadline has passed",
    )
    other = auth_headers(make_user())
    held = hold(client, other, event.id).get_json()
    assert client.delete(f"/bookings/{held['id']}", headers=other).status_code == 204
    assert_consistent(app)


def test_a_schedule_that_contradicts_itself_is_400(client, make_user, auth_headers):
    start = utcnow() + timedelta(days=3)
    body = {
        "title": "Talk",
        "location": "Hall",
        "event_date": start.isoformat(),
        "total_slots": 5,
        "booking_closes_at": (start + timedelta(hours=1)).isoformat(),
    }
    response = client.post("/events", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 400
    assert "booking_closes_at" in response.get_json()["message"]


def test_patch_refuses_status(client, make_user, auth_headers, make_event):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id)
    response = client.patch(
        f"/events/{event.id}", json={"status": "cancelled"}, headers=auth_headers(organizer)
    )
    assert response.status_code == 400 and "status" in response.get_json()["errors"]


def test_slots_cannot_drop_below_bookings_and_holds(client, make_user, auth_headers, make_event):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id, total_slots=5)
    post(client, "/bookings", auth_headers(make_user()), event_id=event.id)
    hold(client, auth_headers(make_user()), event.id)
    response = client.patch(
        f"/events/{event.id}", json={"total_slots": 1}, headers=auth_headers(organizer)
    )
    assert response.status_code == 400
    ok = client.patch(
        f"/events/{event.id}", json={"total_slots": 2}, headers=auth_headers(organizer)
    )
    assert ok.status_code == 200 and ok.get_json()["available_slots"] == 0


def test_the_kept_number_of_events_counts_published_ones(
    app, client, make_user, auth_headers, make_event
):
    organizer = make_user()
    draft = make_event(organizer_id=organizer.id, status="draft")
    make_event()
    assert client.get("/events").headers["X-Total-Count"] == "1"
    post(client, f"/events/{draft.id}/publish", auth_headers(organizer))
    assert client.get("/events").headers["X-Total-Count"] == "2"
    post(client, f"/events/{draft.id}/cancel", auth_headers(organizer))
    assert client.get("/events").headers["X-Total-Count"] == "1"
    with app.app_context():
        published = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.status == "published")
        )
    assert published == 1
    assert_consistent(app)
