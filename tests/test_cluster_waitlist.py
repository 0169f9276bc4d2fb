"""The lifecycle on the real application as production runs it: two gunicorn instances
behind nginx, one PostgreSQL, one Redis. Clients hold, confirm, cancel, wait and leave
while a worker is killed, or while the organiser cancels the event; afterwards every
acknowledged answer is in the database and every counter equals its rows."""

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, select, text

from config import normalize_database_url
from eventbook.bookings.slots import sweep
from eventbook.extensions import db
from eventbook.models import Booking, Event
from tests.cluster import instances, timed_call
from tests.conftest import build_schema
from tests.test_cluster import LOST, assert_integrity, attendees, create_event, storm

pytestmark = [pytest.mark.postgresql, pytest.mark.redis, pytest.mark.live, pytest.mark.cluster]

SHORT_TTLS = {
    "HOLD_TTL_SECONDS": "2",
    "WAITLIST_OFFER_TTL_SECONDS": "2",
    "WAITLIST_SWEEP_SECONDS": "1",
    "BOOKING_RATE_LIMIT": "100000 per minute",
}


@pytest.fixture
def database(fresh_postgresql_database):
    app = build_schema(fresh_postgresql_database)
    yield app, fresh_postgresql_database
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def shared_redis(redis_url, key_prefix):
    return {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": key_prefix}


class Client:
    """One person: holds or books, confirms, cancels, waits, leaves; remembers what the
    service acknowledged."""

    def __init__(self, base_url, headers):
        self.base_url, self.headers = base_url, headers
        self.statuses = Counter()
        self.acknowledged = set()  # booking ids answered 201
        self.confirmed = set()  # booking ids answered 200 to a confirm

    def call(self, method, path, body=None):
        status, payload, _ = timed_call(method, f"{self.base_url}{path}", body, self.headers)
        self.statuses[status] += 1
        return status, payload

    def step(self, event_id):
        status, mine = self.call("GET", "/bookings/my")
        if status != 200:
            return
        if mine:
            booking = mine[0]
            if booking["status"] == "held" and random.random() < 0.6:
                if self.call("POST", f"/bookings/{booking['id']}/confirm")[0] == 200:
                    self.confirmed.add(booking["id"])
            elif random.random() < 0.3:
                self.call("DELETE", f"/bookings/{booking['id']}")
            return
        status, entries = self.call("GET", "/waitlist/my")
        if status == 200 and entries:
            if random.random() < 0.1:
                self.call("DELETE", f"/waitlist/{entries[0]['id']}")
            return
        status, payload = self.call(
            "POST", "/bookings", {"event_id": event_id, "hold": random.random() < 0.5}
        )
        if status == 201:
            self.acknowledged.add(payload["id"])
        elif status == 400 and payload["message"] == "Event is fully booked":
            self.call("POST", f"/events/{event_id}/waitlist")


def sampler(url, event_id, total):
    """Sample the event while the storm runs; return (samples, violations, stop)."""
    engine = create_engine(normalize_database_url(url))
    samples, violations, stop = [], [], threading.Event()
    query = text(
        "SELECT booked_count + held_count, (SELECT count(*) FROM bookings "
        "WHERE event_id = :id AND status IN ('held', 'confirmed')) FROM events WHERE id = :id"
    )

    def sample():
        with engine.connect() as connection:
            while not stop.is_set():
                counter, rows = connection.execute(query, {"id": event_id}).one()
                connection.rollback()
                samples.append(rows)
                if rows > total or counter != rows:
                    violations.append((counter, rows))
                time.sleep(0.02)
        engine.dispose()

    thread = threading.Thread(target=sample)
    thread.start()
    return samples, violations, lambda: (stop.set(), thread.join())


def assert_acknowledged_kept(app, clients):
    with app.app_context():
        acknowledged = set().union(*(client.acknowledged for client in clients))
        confirmed = set().union(*(client.confirmed for client in clients))
        stored = dict(
            db.session.execute(
                select(Booking.id, Booking.confirmed_at).where(Booking.id.in_(acknowledged))
            ).all()
        )
        assert set(stored) == acknowledged
        assert all(stored[booking_id] is not None for booking_id in confirmed & set(stored))


def settle_everything(app):
    time.sleep(2.5)  # every hold and offer of the storm has run out
    with app.app_context():
        sweep()


def test_a_waitlist_storm_with_a_worker_killed_loses_nothing_acknowledged(
    database, shared_redis, record_property
):
    app, url = database
    event = create_event(app, total_slots=10)
    people = attendees(app, 40)
    samples, violations, stop = sampler(url, event, 10)
    with instances(url, **shared_redis, **SHORT_TTLS) as servers:
        victim = servers[0]
        clients = [Client(servers[n % 2].url, h) for n, h in enumerate(people)]

        def kill_a_worker():
            time.sleep(3)
            victim.kill_worker()

        storm(clients, event, 8, during=kill_a_worker)
    stop()
    totals = sum((client.statuses for client in clients), Counter())
    record_property("waitlist_storm_statuses", {str(k): v for k, v in totals.items()})
    assert set(totals) <= {200, 201, 204, 400} | LOST, totals
    assert totals[201] > 20, totals  # the storm really stormed
    assert violations == [] and samples and max(samples) <= 10, violations
    assert_acknowledged_kept(app, clients)
    settle_everything(app)
    assert_integrity(app)


def test_the_organiser_cancels_while_two_instances_take_bookings_and_waiters(
    database, shared_redis, record_property
):
    app, url = database
    event = create_event(app, total_slots=15)
    organizer_headers, *people = attendees(app, 41)
    with instances(url, **shared_redis, **SHORT_TTLS) as servers:
        status, me, _ = timed_call("GET", f"{servers[0].url}/auth/me", None, organizer_headers)
        assert status == 200
        with app.app_context():
            db.session.get(Event, event).organizer_id = me["id"]
            db.session.commit()
        clients = [Client(servers[n % 2].url, h) for n, h in enumerate(people)]
        answers = []

        def cancel_midway():
            time.sleep(3)
            answers.append(
                timed_call(
                    "POST",
                    f"{servers[1].url}/events/{event}/cancel",
                    {"reason": "Storm"},
                    organizer_headers,
                )
            )

        storm(clients, event, 6, during=cancel_midway)
    assert answers[0][0] == 200, answers
    totals = sum((client.statuses for client in clients), Counter())
    record_property("event_cancel_storm_statuses", {str(k): v for k, v in totals.items()})
    assert set(totals) <= {200, 201, 204, 400}, totals
    with app.app_context():
        live = db.session.scalar(
            select(Booking.id).where(
                Booking.event_id == event, Booking.status.in_(("held", "confirmed"))
            )
        )
        assert live is None
    assert_acknowledged_kept(app, clients)
    assert_integrity(app)
