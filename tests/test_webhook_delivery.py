"""Delivering webhooks to a real HTTP receiver, verified with standardwebhooks' verifier."""

import json
import re
import time
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from standardwebhooks import Webhook

from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks import delivery
from eventbook.webhooks.changes import prune_changes, record_change
from eventbook.webhooks.delivery import claim_delivery, deliver_due, retry_wait
from eventbook.webhooks.models import Change, WebhookDelivery, WebhookSubscription
from tests.live import ROOT
from tests.receiver import receiving

EVENT = {
    "title": "Meetup",
    "location": "Hall",
    "event_date": (utcnow() + timedelta(days=3)).isoformat(),
    "total_slots": 5,
}


@pytest.fixture
def organizer(app, make_user, auth_headers):
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True  # the receiver is on 127.0.0.1
    user = make_user()
    return user, auth_headers(user)


def subscribe(client, headers, url, **body):
    response = client.post("/webhooks", json={"url": url, **body}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver(app, **kwargs):
    with app.app_context():
        return deliver_due(**kwargs)


def attempts(client, headers, subscription):
    response = client.get(f"/webhooks/{subscription['id']}/deliveries", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def make_due(app):
    """Bring every scheduled retry forward to now."""
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == "pending")
            .values(next_attempt_at=utcnow())
        )
        db.session.commit()


def test_a_booking_arrives_signed_and_verifiable(app, client, organizer, make_user, auth_headers):
    _, headers = organizer
    event = client.post("/events", json=EVENT, headers=headers).get_json()
    with receiving() as receiver:
        subscription = subscribe(client, headers, receiver.url)
        booked = client.post(
            "/bookings", json={"event_id": event["id"]}, headers=auth_headers(make_user())
        )
        assert deliver(app) == 1
    [request] = receiver.requests
    payload = Webhook(subscription["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "booking.confirmed"
    assert payload["data"] == booked.get_json()
    [change] = [
        c
        for c in client.get("/changes", headers=headers).get_json()["changes"]
        if c["type"] == "booking.confirmed"
    ]
    assert request["headers"]["webhook-id"] == str(change["id"])
    assert payload["timestamp"] == change["created_at"]
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60
    assert request["headers"]["content-type"] == "application/json"
    [attempt] = attempts(client, headers, subscription)
    assert set(attempt) == {
        "id", "change_id", "type", "attempt", "state", "status_code", "error",
        "duration_ms", "created_at", "next_attempt_at",
    }  # fmt: skip
    assert (attempt["state"], attempt["status_code"], attempt["attempt"]) == ("delivered", 204, 1)
    assert attempt["change_id"] == change["id"] and attempt["next_attempt_at"] is None
    assert deliver(app) == 0  # delivered once


def test_a_wrong_secret_does_not_verify(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        deliver(app)
    [request] = receiver.requests
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(request["body"], request["headers"])
    tampered = request["body"].replace(b"Meetup", b"Meetup!")
    with pytest.raises(Exception, match="signature"):
        Webhook(subscribe(client, headers, "http://127.0.0.1/")["secret"]).verify(
            tampered, request["headers"]
        )


def test_a_failed_attempt_is_retried_with_backoff_and_the_same_id(app, client, organizer):
    _, headers = organizer
    answers = iter([500, 204])
    with receiving(lambda request: next(answers)) as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        assert deliver(app) == 1
        [failed] = attempts(client, headers, subscription)
        assert (failed["state"], failed["status_code"]) == ("retrying", 500)
        wait = _seconds_between(failed["created_at"], failed["next_attempt_at"])
        base = app.config["WEBHOOK_RETRY_BASE_SECONDS"]
        assert base * 0.8 - 0.01 <= wait <= base * 1.2 + 0.01
        assert deliver(app) == 0  # not due yet
        make_due(app)
        assert deliver(app) == 1
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    Webhook(subscription["secret"]).verify(second["body"], second["headers"])
    newest, oldest = attempts(client, headers, subscription)
    assert (newest["attempt"], newest["state"]) == (2, "delivered")
    assert oldest["id"] == failed["id"]
    with app.app_context():
        active, failing = db.session.execute(
            select(WebhookSubscription.active, WebhookSubscription.failing_since)
        ).one()
    assert active and failing is None


def _seconds_between(start, end):
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@given(attempt=st.integers(1, 60), rand=st.floats(0, 1), base=st.floats(0.1, 60))
def test_retry_waits_double_with_jitter_and_cap(attempt, rand, base):
    wait = retry_wait(attempt, base, rand=lambda: rand)
    nominal = base * 2 ** (attempt - 1)
    assert wait <= 3600
    assert min(nominal * 0.8, 3600) - 1e-6 <= wait <= nominal * 1.2 + 1e-6


def test_the_retry_schedule_spans_at_least_a_day():
    """Even with every wait at its shortest, attempts go on for 24 hours."""
    elapsed, attempt = 0.0, 1
    while elapsed < 24 * 3600:
        elapsed += retry_wait(attempt, 5, rand=lambda: 0.0)
        attempt += 1
    assert attempt > 20  # backed off, not hammering


def test_410_switches_the_subscription_off(app, client, organizer):
    _, headers = organizer
    with receiving(lambda request: 410) as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        client.post("/events", json=EVENT, headers=headers)
        assert deliver(app) == 1  # the second is given up with the subscription
    shown = client.get(f"/webhooks/{subscription['id']}", headers=headers).get_json()
    assert shown["active"] is False
    [attempt] = attempts(client, headers, subscription)
    assert (attempt["state"], attempt["status_code"]) == ("failed", 410)
    with app.app_context():
        states = db.session.scalars(select(WebhookDelivery.state)).all()
    assert sorted(states) == ["failed", "failed"]


def test_a_redirect_is_not_followed(app, client, organizer):
    _, headers = organizer
    with receiving() as internal:
        with receiving(lambda request: (302, {"Location": internal.url})) as target:
            subscription = subscribe(client, headers, target.url)
            client.post("/events", json=EVENT, headers=headers)
            assert deliver(app) == 1
        assert internal.requests == [] and len(target.requests) == 1
    [attempt] = attempts(client, headers, subscription)
    assert (attempt["state"], attempt["status_code"]) == ("retrying", 302)
    assert "redirect" in attempt["error"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_targets_are_refused_at_connect_time(app, client, organizer, host):
    """A subscription saved while its host looked public (here: while allowed) is
    checked again on every connection."""
    _, headers = organizer
    with receiving() as receiver:
        url = receiver.url.replace("127.0.0.1", host)
        subscription = subscribe(client, headers, url)
        app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
        client.post("/events", json=EVENT, headers=headers)
        assert deliver(app) == 1
    assert receiver.requests == []
    [attempt] = attempts(client, headers, subscription)
    assert attempt["state"] == "retrying" and attempt["status_code"] is None
    assert attempt["error"].startswith("refused:") and "127.0.0.1" in attempt["error"]


def test_a_slow_target_times_out(app, client, organizer, monkeypatch):
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.5)
    _, headers = organizer

    def slow(request):
        time.sleep(2)
        return 204

    with receiving(slow) as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        started = time.monotonic()
        deliver(app)
        assert time.monotonic() - started < 1.8
    [attempt] = attempts(client, headers, subscription)
    assert attempt["state"] == "retrying" and "timed out" in attempt["error"].lower()


def test_an_unreachable_target_is_retried(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        url = receiver.url
    subscription = subscribe(client, headers, url)  # nobody listens there any more
    client.post("/events", json=EVENT, headers=headers)
    deliver(app)
    [attempt] = attempts(client, headers, subscription)
    assert attempt["state"] == "retrying" and "Connection" in attempt["error"]


def test_retry_through_the_api_sends_the_change_again(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        deliver(app)
        [attempt] = attempts(client, headers, subscription)
        path = f"/webhooks/{subscription['id']}/deliveries/{attempt['id']}/retry"
        assert client.post(path, headers=headers).status_code == 202
        assert deliver(app) == 1
    first, again = receiver.requests
    assert first["headers"]["webhook-id"] == again["headers"]["webhook-id"]
    assert json.loads(first["body"]) == json.loads(again["body"])
    assert [a["attempt"] for a in attempts(client, headers, subscription)] == [2, 1]
    missing = f"/webhooks/{subscription['id']}/deliveries/{attempt['id'] + 99}/retry"
    assert client.post(missing, headers=headers).status_code == 404


def test_only_the_chosen_types_are_sent(app, client, organizer, make_user, auth_headers):
    _, headers = organizer
    event = client.post("/events", json=EVENT, headers=headers).get_json()
    with receiving() as receiver:
        subscribe(client, headers, receiver.url, events=["booking.cancelled"])
        attendee = auth_headers(make_user())
        booking = client.post("/bookings", json={"event_id": event["id"]}, headers=attendee)
        client.delete(f"/bookings/{booking.get_json()['id']}", headers=attendee)
        deliver(app)
    assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["booking.cancelled"]


def test_only_the_organisers_subscriptions_get_the_change(
    app, client, organizer, make_user, auth_headers
):
    _, headers = organizer
    with receiving() as mine, receiving() as theirs:
        subscribe(client, headers, mine.url)
        subscribe(client, auth_headers(make_user()), theirs.url)
        client.post("/events", json=EVENT, headers=headers)
        deliver(app)
    assert len(mine.requests) == 1 and theirs.requests == []


def test_a_rolled_back_change_is_never_delivered(app, client, organizer, make_event):
    user, headers = organizer
    event = make_event(organizer_id=user.id)
    with receiving() as receiver:
        subscribe(client, headers, receiver.url)
        with app.app_context():
            record_change("event.updated", event.id, {"rolled": "back"})
            db.session.rollback()
        assert deliver(app) == 0
    assert receiver.requests == []


def test_a_delivery_is_given_up_after_a_day(app, client, organizer):
    _, headers = organizer
    with receiving(lambda request: 503) as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        with app.app_context():
            db.session.execute(
                update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=24, minutes=1))
            )
            db.session.commit()
        deliver(app)
    [attempt] = attempts(client, headers, subscription)
    assert (attempt["state"], attempt["next_attempt_at"]) == ("failed", None)
    assert client.get(f"/webhooks/{subscription['id']}", headers=headers).get_json()["active"]


def test_failing_without_a_break_for_over_a_day_switches_the_subscription_off(
    app, client, organizer
):
    _, headers = organizer
    with receiving(lambda request: 500) as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        with app.app_context():
            db.session.execute(
                update(WebhookSubscription).values(failing_since=utcnow() - timedelta(hours=25))
            )
            db.session.commit()
        deliver(app)
    path = f"/webhooks/{subscription['id']}"
    assert client.get(path, headers=headers).get_json()["active"] is False
    # switched on again by its owner, it starts a new run
    assert client.patch(path, json={"active": True}, headers=headers).get_json()["active"]
    with app.app_context():
        assert db.session.scalar(select(WebhookSubscription.failing_since)) is None


def test_an_inactive_subscription_gets_nothing(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.patch(f"/webhooks/{subscription['id']}", json={"active": False}, headers=headers)
        client.post("/events", json=EVENT, headers=headers)
        assert deliver(app) == 0
    assert receiver.requests == []


def test_a_leased_delivery_is_not_claimed_twice_until_its_lease_runs_out(app, client, organizer):
    _, headers = organizer
    subscribe(client, headers, "http://127.0.0.1:9/")
    client.post("/events", json=EVENT, headers=headers)
    with app.app_context():
        first = claim_delivery()
        assert first is not None
        assert claim_delivery() is None  # a worker holds it
        lease = app.config["WEBHOOK_LEASE_SECONDS"]
        later = utcnow() + timedelta(seconds=lease + 1)
        second = claim_delivery(now=later)  # that worker died: another takes over
        assert second is not None and second[0] == first[0] and second[1] != first[1]


def test_prune_keeps_waiting_and_recent_changes(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        subscribe(client, headers, receiver.url)
        for title in ("delivered", "waiting", "recent"):
            client.post("/events", json={**EVENT, "title": title}, headers=headers)
        with app.app_context():
            waiting_id = db.session.scalar(
                select(Change.id).where(Change.data["title"].as_string() == "waiting")
            )
            db.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.change_id == waiting_id)
                .values(next_attempt_at=utcnow() + timedelta(hours=1))
            )
            db.session.commit()
        deliver(app)
    with app.app_context():
        db.session.execute(
            update(Change)
            .where(Change.data["title"].as_string() != "recent")
            .values(created_at=utcnow() - timedelta(days=8))
        )
        assert prune_changes(utcnow() - timedelta(days=7), dry_run=True) == 1
        assert prune_changes(utcnow() - timedelta(days=7)) == 1
        db.session.commit()
        titles = sorted(db.session.scalars(select(Change.data["title"].as_string())).all())
        assert titles == ["recent", "waiting"]
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


def test_the_worker_command_delivers(app, client, organizer):
    _, headers = organizer
    with receiving() as receiver:
        subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        result = app.test_cli_runner().invoke(args=["deliver-webhooks", "--once"])
    assert result.exit_code == 0 and "1 delivery attempts" in result.output
    assert len(receiver.requests) == 1


def readme_receiver():
    """Return the README's Python verification snippet."""
    readme = (ROOT / "README.md").read_text()
    [snippet] = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", readme, re.DOTALL | re.MULTILINE)
        if "from standardwebhooks import" in block
    ]
    return snippet


def test_the_readme_snippet_verifies_a_real_delivery(app, client, organizer, capsys):
    _, headers = organizer
    with receiving() as receiver:
        subscription = subscribe(client, headers, receiver.url)
        client.post("/events", json=EVENT, headers=headers)
        deliver(app)
    [request] = receiver.requests
    namespace = {}
    exec(readme_receiver().replace("whsec_...", subscription["secret"]), namespace)
    receive = namespace["receive"]
    assert receive(request["body"], request["headers"]) == 204
    assert capsys.readouterr().out.startswith("event.created ")
    assert receive(request["body"], request["headers"]) == 204  # a retry: handled once
    assert capsys.readouterr().out == ""
    tampered = request["body"].replace(b"Meetup", b"Meetup!")
    assert receive(tampered, request["headers"]) == 400
