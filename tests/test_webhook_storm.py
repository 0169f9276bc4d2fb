"""Webhooks and the change feed under a storm, on PostgreSQL.

Two gunicorn instances take concurrent bookings and cancellations; two
delivery worker processes send the changes to a receiver that answers 500
to a third of the attempts; one worker is SIGKILLed mid-way; rolled-back
transactions record changes too. Every committed change must arrive,
signed, with duplicates only under the same webhook-id; no rolled-back
change may arrive; and a reader following the feed's cursors during the
storm must see each committed change exactly once.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks.changes import record_change
from eventbook.webhooks.models import Change, DeliveryAttempt, WebhookDelivery
from tests.cluster import in_parallel, instances, timed_call
from tests.conftest import build_schema
from tests.live import ROOT, call, server_environment
from tests.receiver import receiving
from tests.test_cluster import attendees

pytestmark = [pytest.mark.postgresql, pytest.mark.live, pytest.mark.cluster]

CLIENTS = 16
# A booking and a cancel each: 1,024 bookings and cancellations in all.
ROUNDS = int(os.environ.get("WEBHOOK_STORM_ROUNDS", "32"))
ROLLBACKS = 40
WORKER_ENVIRONMENT = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_LEASE_SECONDS": "3",
}


WORKER_OPTIONS = ("--threads", "6", "--poll-seconds", "0.1")


@contextlib.contextmanager
def delivery_workers(database_url, log, count=2):
    """Run `count` `flask deliver-webhooks` processes; yield them; stop any left."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "deliver-webhooks", *WORKER_OPTIONS],
            cwd=ROOT,
            env=server_environment(database_url, **WORKER_ENVIRONMENT),
            stdout=log,
            stderr=log,
        )
        for _ in range(count)
    ]
    try:
        yield workers
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def find_problems(changes, requests, secret, answered_ok, feed, rolled_back_marker):
    """Return what is wrong with a storm's outcome (empty: nothing).

    :param changes: {change id: (type, data)} as committed.
    :param requests: what the receiver got: dicts of headers and body.
    :param answered_ok: the webhook-ids the receiver answered 2xx.
    :param feed: the changes read through the feed, in order.
    """
    problems = []
    bodies = defaultdict(set)
    for request in requests:
        try:
            payload = Webhook(secret).verify(request["body"], request["headers"])
        except Exception as error:
            problems.append(f"unverifiable delivery: {error}")
            continue
        bodies[request["headers"]["webhook-id"]].add(request["body"])
        if rolled_back_marker in json.dumps(payload):
            problems.append("a rolled-back change was delivered")
    for webhook_id, variants in bodies.items():
        if len(variants) > 1:
            problems.append(f"webhook-id {webhook_id} carried different bodies")
        change = changes.get(int(webhook_id))
        payload = json.loads(next(iter(variants)))
        if change is None or (payload["type"], payload["data"]) != change:
            problems.append(f"webhook-id {webhook_id} is not the change of that id")
    missing = set(changes) - {int(webhook_id) for webhook_id in answered_ok}
    if missing:
        problems.append(f"{len(missing)} committed changes never delivered: {sorted(missing)[:5]}")
    feed_ids = [change["id"] for change in feed]
    if len(feed_ids) != len(set(feed_ids)):
        problems.append("the feed showed a change twice")
    if set(feed_ids) != set(changes):
        problems.append(f"the feed showed {len(set(feed_ids))} of {len(changes)} changes")
    last_by_event = {}
    for change in feed:
        event_id = change["data"].get("event_id", change["data"].get("id"))
        if change["id"] < last_by_event.get(event_id, 0):
            problems.append(f"the changes of event {event_id} came out of order")
        last_by_event[event_id] = change["id"]
    if any(rolled_back_marker in json.dumps(change["data"]) for change in feed):
        problems.append("the feed showed a rolled-back change")
    return problems


def test_every_committed_change_is_delivered_and_read_once(
    fresh_postgresql_database, tmp_path, record_property
):
    url = fresh_postgresql_database
    app = build_schema(url)
    organizer, *clients = attendees(app, CLIENTS + 1)
    marker = "rolled-back-change"

    answers, answers_lock, answered_ok = [0], threading.Lock(), set()
    # While set, the receiver answers slowly, so that a delivery is in flight
    # when a worker is killed; `in_flight` counts the answers being made.
    slow, in_flight = threading.Event(), [0]

    def answer(request):
        with answers_lock:
            in_flight[0] += 1
        try:
            time.sleep(0.5 if slow.is_set() else 0.005)
        finally:
            with answers_lock:
                in_flight[0] -= 1
                answers[0] += 1
                failing = answers[0] % 3 == 0
                if not failing:
                    answered_ok.add(request["headers"].get("webhook-id"))
        return 500 if failing else 204

    environment = {
        **WORKER_ENVIRONMENT,
        "BOOKING_RATE_LIMIT": "100000 per minute",
        "EVENT_CREATE_RATE_LIMIT": "100000 per minute",
    }
    with (
        open(tmp_path / "workers.log", "w+") as worker_log,
        receiving(answer) as receiver,
        instances(url, count=2, workers=2, threads=4, **environment) as servers,
        delivery_workers(url, worker_log) as workers,
    ):
        status, subscription, _ = call(
            "POST", f"{servers[0].url}/webhooks", {"url": receiver.url}, organizer
        )
        assert status == 201, subscription
        event_ids = []
        for n in range(4):
            status, event, _ = call(
                "POST",
                f"{servers[n % 2].url}/events",
                {"title": f"Storm {n}", "location": "Hall", "total_slots": 6,
                 "event_date": (utcnow() + timedelta(days=7)).isoformat()},
                organizer,
            )  # fmt: skip
            assert status == 201
            event_ids.append(event["id"])
        storm_over, feed, feed_errors = threading.Event(), [], []

        def read_feed():
            cursor, quiet = None, 0
            while quiet < 3:
                query = "limit=37" + (f"&after={cursor}" if cursor else "")
                status, page, _ = call("GET", f"{servers[1].url}/changes?{query}", None, organizer)
                if status != 200:
                    feed_errors.append((status, page))
                    time.sleep(0.1)
                    continue
                feed.extend(page["changes"])
                cursor = page["next_cursor"]
                quiet = quiet + 1 if storm_over.is_set() and not page["changes"] else 0
                time.sleep(0.02)

        def roll_back():
            with app.app_context():
                for n in range(ROLLBACKS):
                    record_change("booking.confirmed", event_ids[n % 4], {"marker": marker})
                    time.sleep(0.01)
                    db.session.rollback()
                    time.sleep(0.05)

        tally, tally_lock = defaultdict(int), threading.Lock()

        def count(outcome):
            with tally_lock:
                tally[outcome] += 1

        def client(index):
            base, headers = servers[index % 2].url, clients[index]
            for n in range(ROUNDS):
                event_id = event_ids[(index + n) % 4]
                status, booking, _ = timed_call(
                    "POST", f"{base}/bookings", {"event_id": event_id}, headers
                )
                count(f"book {status}")
                if status == 201:
                    status, _, _ = timed_call(
                        "DELETE", f"{base}/bookings/{booking['id']}", None, headers
                    )
                    count(f"cancel {status}")

        reader = threading.Thread(target=read_feed)
        rollbacks = threading.Thread(target=roll_back)
        reader.start()
        rollbacks.start()

        def kill_one_worker():
            while answers[0] < 150 and not storm_over.is_set():
                time.sleep(0.01)
            # Only worker 0 delivers now: once worker 1's requests are answered,
            # a request in flight is worker 0's, and the kill interrupts it.
            workers[1].send_signal(signal.SIGSTOP)
            slow.set()
            time.sleep(0.6)
            deadline = time.monotonic() + 10
            while in_flight[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            slow.clear()
            workers[1].send_signal(signal.SIGCONT)

        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        started = time.monotonic()
        in_parallel(client, [(index,) for index in range(CLIENTS)])
        storm_seconds = time.monotonic() - started
        rollbacks.join()
        storm_over.set()
        killer.join()

        with app.app_context():
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                waiting = db.session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.state == "pending")
                )
                db.session.rollback()
                if not waiting:
                    break
                time.sleep(0.5)
            changes = {
                change.id: (change.type, change.data)
                for change in db.session.scalars(select(Change)).all()
            }
            # Claimed, never recorded: the killed worker's deliveries in flight.
            abandoned = db.session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.attempts
                    > select(func.count())
                    .where(DeliveryAttempt.delivery_id == WebhookDelivery.id)
                    .scalar_subquery()
                )
            )
            delivery_states = dict(
                db.session.execute(
                    select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
                ).all()
            )
        drain_seconds = time.monotonic() - started - storm_seconds
        reader.join(60)
        workers[1].send_signal(signal.SIGTERM)
        workers[1].wait(30)
        requests = list(receiver.requests)

    assert workers[0].returncode == -signal.SIGKILL
    assert workers[1].returncode == 0, (tmp_path / "workers.log").read_text()[-3000:]
    assert not feed_errors, feed_errors[:3]
    assert abandoned >= 1  # the kill interrupted deliveries, which others then made
    assert delivery_states == {"delivered": len(changes)}, delivery_states
    confirmed = sum(1 for kind, _ in changes.values() if kind == "booking.confirmed")
    cancelled = sum(1 for kind, _ in changes.values() if kind == "booking.cancelled")
    assert (confirmed, cancelled) == (tally["book 201"], tally["cancel 204"]), tally
    assert confirmed > CLIENTS * ROUNDS / 2

    subscribed = changes  # the subscription came before every change
    assert (
        find_problems(subscribed, requests, subscription["secret"], answered_ok, feed, marker) == []
    )
    duplicates = len(requests) - len({r["headers"]["webhook-id"] for r in requests})
    for name, value in {
        "changes": len(changes),
        "requests": len(requests),
        "answered_500": answers[0] // 3,
        "same_id_repeats": duplicates,
        "abandoned_by_the_killed_worker": abandoned,
        "feed_read": len(feed),
        "storm_seconds": round(storm_seconds, 1),
        "drain_seconds": round(drain_seconds, 1),
    }.items():
        record_property(name, value)

    # The control: the same checks catch a lost, a forged and a rolled-back delivery.
    lost = [
        r for r in requests if r["headers"]["webhook-id"] != requests[0]["headers"]["webhook-id"]
    ]
    okay_without_first = answered_ok - {requests[0]["headers"]["webhook-id"]}
    assert find_problems(subscribed, lost, subscription["secret"], okay_without_first, feed, marker)
    forged = dict(requests[0], body=requests[0]["body"].replace(b"booking", b"bookinG"))
    assert find_problems(subscribed, [*requests, forged], subscription["secret"], answered_ok,
                         feed, marker)  # fmt: skip
    assert find_problems(subscribed, requests, subscription["secret"], answered_ok,
                         [*feed, feed[0]], marker)  # fmt: skip
