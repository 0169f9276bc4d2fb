"""`Idempotency-Key` on POST /bookings."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from eventbook.bookings import idempotency
from eventbook.extensions import db
from eventbook.models import Booking, IdempotencyKey, utcnow


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def book(client, auth_headers, user):
    headers = auth_headers(user)

    def book(event_id, key="retry-1", **extra_headers):
        return client.post(
            "/bookings",
            json={"event_id": event_id},
            headers={**headers, "Idempotency-Key": key, **extra_headers},
        )

    return book


def booking_rows(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Booking))


def test_a_retry_gets_the_first_response_without_booking_again(app, book, make_event):
    event = make_event(total_slots=5)
    first = book(event.id)
    retry = book(event.id)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert booking_rows(app) == 1


def test_a_refusal_is_replayed_too(app, book, make_event):
    event = make_event(total_slots=1, booked_count=1)
    first = book(event.id)
    assert first.status_code == 400
    # A slot frees up, but the retry still gets the answer the first request got.
    with app.app_context():
        db.session.execute(
            update(type(event)).where(type(event).id == event.id).values(booked_count=0)
        )
        db.session.commit()
    retry = book(event.id)
    assert (retry.status_code, retry.get_json()) == (400, first.get_json())
    assert booking_rows(app) == 0


def test_the_same_key_with_another_body_is_400(app, book, make_event):
    book(make_event().id)
    response = book(make_event().id)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": True,
        "message": "This Idempotency-Key was already used with a different request",
        "status_code": 400,
    }
    assert booking_rows(app) == 1


def test_keys_belong_to_one_user(client, book, make_user, auth_headers, make_event):
    event = make_event()
    assert book(event.id, key="shared").status_code == 201
    other = client.post(
        "/bookings",
        json={"event_id": event.id},
        headers={**auth_headers(make_user()), "Idempotency-Key": "shared"},
    )
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers


def test_a_retry_after_a_token_refresh_is_replayed(app, client, user, tokens_for, make_event):
    event = make_event()
    tokens = tokens_for(user)
    body, key = {"event_id": event.id}, {"Idempotency-Key": "after-refresh"}
    first = client.post(
        "/bookings", json=body, headers={"Authorization": f"Bearer {tokens['access_token']}", **key}
    )
    fresh = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    retry = client.post(
        "/bookings",
        json=body,
        headers={"Authorization": f"Bearer {fresh.get_json()['access_token']}", **key},
    )
    assert retry.status_code == 201 and retry.get_json() == first.get_json()
    assert booking_rows(app) == 1


def test_a_request_still_in_flight_is_409(app, user, book, make_event):
    event = make_event()
    with app.app_context():
        idempotency.claim(user.id, "busy", {"event_id": event.id, "hold": False})
    response = book(event.id, key="busy")
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["message"].startswith("A request with this Idempotency-Key")
    assert booking_rows(app) == 0


def test_an_abandoned_claim_is_taken_over(app, user, book, make_event):
    event = make_event()
    with app.app_context():
        idempotency.claim(
            user.id,
            "crashed",
            {"event_id": event.id, "hold": False},
            now=utcnow() - timedelta(minutes=5),
        )
    response = book(event.id, key="crashed")
    assert response.status_code == 201
    assert booking_rows(app) == 1


def test_a_key_expires_after_a_day(app, user, book, make_event):
    old_event, new_event = make_event(), make_event()
    with app.app_context():
        idempotency.claim(
            user.id, "old", {"event_id": old_event.id}, now=utcnow() - timedelta(hours=25)
        )
    assert book(new_event.id, key="old").status_code == 201


def test_a_failed_request_releases_its_key(app, user, book, make_event, monkeypatch):
    event = make_event()

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("eventbook.bookings.operations.book_event", crash)
    assert book(event.id, key="flaky").status_code == 500
    monkeypatch.undo()
    assert book(event.id, key="flaky").status_code == 201
    with app.app_context():
        record = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "flaky"))
        assert record.status_code == 201


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_an_invalid_key_is_400(app, book, make_event, key):
    response = book(make_event().id, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert booking_rows(app) == 0


def test_the_key_is_documented(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/bookings"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]
    assert "409" in operation["responses"]


def test_expired_keys_are_pruned(app, user, make_event):
    event = make_event()
    with app.app_context():
        idempotency.claim(user.id, "old", {"event_id": event.id}, now=utcnow() - timedelta(days=2))
        idempotency.claim(user.id, "fresh", {"event_id": event.id})
    runner = app.test_cli_runner()
    dry_run = runner.invoke(args=["prune-idempotency-keys", "--dry-run"])
    assert dry_run.output == "1 idempotency keys would be deleted.\n"
    result = runner.invoke(args=["prune-idempotency-keys"])
    assert result.output == "Deleted 1 idempotency keys older than 24 hours.\n"
    with app.app_context():
        assert list(db.session.scalars(select(IdempotencyKey.key))) == ["fresh"]
