"""The real application as production runs it: two gunicorn instances, two
workers each, one PostgreSQL database, one Redis. Concurrent clients race
for slots, and servers fail under load; no acknowledged booking may be lost
or duplicated, and no event may ever have more bookings than slots.
"""

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import timedelta

import bcrypt
import psycopg2
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from config import normalize_database_url
from eventbook import create_app
from eventbook.auth.tokens import issue_tokens
from eventbook.extensions import db
from eventbook.models import Booking, Event, User, utcnow
from tests import services
from tests.cluster import (
    PrivatePgBouncer,
    PrivatePostgres,
    PrivateRedis,
    in_parallel,
    instances,
    timed_call,
)
from tests.conftest import TEST_SETTINGS, build_schema

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.redis,
    pytest.mark.live,
    pytest.mark.cluster,
    # One at a time: each test runs servers of its own and measures them.
    pytest.mark.xdist_group("cluster"),
]

STORM_SECONDS = float(os.environ.get("CLUSTER_STORM_SECONDS", "30"))
# No answer from the application: nginx says 502 when a worker dies mid-request.
LOST = {None, 502}
UNAVAILABLE = {"error": True, "message": "Service temporarily unavailable", "status_code": 503}


@pytest.fixture
def shared_redis(redis_url, key_prefix):
    """Environment of instances sharing the machine's Redis for their limits."""
    return {
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": key_prefix,
        "BOOKING_RATE_LIMIT": "100000 per minute",
    }


@pytest.fixture
def database(fresh_postgresql_database):
    """An application on a fresh PostgreSQL database with the schema."""
    app = build_schema(fresh_postgresql_database)
    yield app, fresh_postgresql_database
    with app.app_context():
        db.engine.dispose()


def create_event(app, **fields):
    with app.app_context():
        event = Event(
            title="Cluster event",
            location="Hall",
            event_date=utcnow() + timedelta(days=7),
            total_slots=fields.pop("total_slots", 10),
            **fields,
        )
        db.session.add(event)
        db.session.commit()
        return event.id


def attendees(app, count):
    """Create `count` users, log each in, and return their Authorization headers."""
    password_hash = bcrypt.hashpw(b"password123", bcrypt.gensalt(4)).decode()
    batch = uuid.uuid4().hex[:8]
    with app.app_context():
        users = [
            User(
                name=f"Attendee {n}", email=f"a{n}-{batch}@example.com", password_hash=password_hash
            )
            for n in range(count)
        ]
        db.session.add_all(users)
        db.session.flush()
        pairs = [issue_tokens(user) for user in users]
        db.session.commit()
    return [{"Authorization": f"Bearer {pair['access_token']}"} for pair in pairs]


def counts(app, event_id):
    with app.app_context():
        counter = db.session.get(Event, event_id, populate_existing=True).booked_count
        rows = db.session.scalar(
            select(func.count()).where(Booking.event_id == event_id, Booking.status == "confirmed")
        )
        return counter, rows


def assert_integrity(app):
    result = app.test_cli_runner().invoke(args=["integrity", "check"])
    assert result.exit_code == 0, result.output


def book(url, headers, event_id, **extra):
    return timed_call("POST", f"{url}/bookings", {"event_id": event_id}, {**headers, **extra})


def outcome(result):
    status, payload, _ = result
    return status, (payload or {}).get("message")


def test_two_hundred_users_race_for_ten_slots(database, shared_redis, record_property):
    app, url = database
    event = create_event(app, total_slots=10)
    people = attendees(app, 200)
    with instances(url, **shared_redis) as servers:
        urls = [server.url for server in servers]
        started = time.monotonic()
        results = in_parallel(
            lambda n, headers: book(urls[n % 2], headers, event), list(enumerate(people))
        )
        record_property("race_seconds", round(time.monotonic() - started, 2))
    record_property("slowest_answer_seconds", round(max(r[2] for r in results), 2))
    assert Counter(map(outcome, results)) == {
        (201, None): 10,
        (400, "Event is fully booked"): 190,
    }
    assert counts(app, event) == (10, 10)
    assert_integrity(app)


def test_one_user_firing_twenty_requests_gets_one_booking(database, shared_redis):
    app, url = database
    event = create_event(app, total_slots=10)
    [headers] = attendees(app, 1)
    with instances(url, **shared_redis) as servers:
        urls = [server.url for server in servers]
        results = in_parallel(
            lambda n: book(urls[n % 2], headers, event), [(n,) for n in range(20)]
        )
    assert Counter(map(outcome, results)) == {
        (201, None): 1,
        (400, "You have already booked this event"): 19,
    }
    assert counts(app, event) == (1, 1)


def test_one_idempotency_key_across_instances_books_once(database, shared_redis):
    app, url = database
    [headers] = attendees(app, 1)
    events = [create_event(app, total_slots=5) for _ in range(10)]
    with instances(url, **shared_redis) as servers:
        for event in events:
            key = {"Idempotency-Key": f"pay-{event}"}
            results = in_parallel(
                lambda server, event, key: book(server.url, headers, event, **key),
                [(server, event, key) for server in servers],
            )
            statuses = sorted(status for status, _, _ in results)
            assert statuses in ([201, 201], [201, 409]), results
            assert counts(app, event) == (1, 1)
            # Whatever happened, a later retry gets the first response.
            status, payload, _ = book(servers[0].url, headers, event, **key)
            assert status == 201 and payload["event_id"] == event


def test_the_booking_limit_holds_across_instances(database, shared_redis):
    app, url = database
    [headers] = attendees(app, 1)
    events = [create_event(app) for _ in range(6)]
    with instances(url, **{**shared_redis, "BOOKING_RATE_LIMIT": "5 per minute"}) as servers:
        statuses = [book(servers[n % 2].url, headers, events[n])[0] for n in range(6)]
    assert sorted(statuses) == [201] * 5 + [429]


def test_control_run_a_check_then_insert_booking_path_oversells(
    database, shared_redis, record_property
):
    """The race tests above must be able to fail: served with the original's
    check-then-insert booking path, the same harness sees overselling."""
    app, url = database
    event = create_event(app, total_slots=1)
    people = attendees(app, 100)
    with instances(url, app="tests.unsafe_wsgi:app", **shared_redis) as servers:
        urls = [server.url for server in servers]
        results = in_parallel(
            lambda n, headers: book(urls[n % 2], headers, event), list(enumerate(people))
        )
    accepted = sum(status == 201 for status, _, _ in results)
    _, rows = counts(app, event)
    record_property("bookings_for_1_slot", rows)
    assert rows == accepted > 1, f"{accepted} bookings for 1 slot: the control did not oversell"
    result = app.test_cli_runner().invoke(args=["integrity", "check"])
    assert result.exit_code == 1 and "OVERSOLD" in result.output


class Ledger:
    """What one client was told, to compare with the database afterwards."""

    def __init__(self, base_url, headers):
        self.base_url, self.headers = base_url, headers
        self.held = None  # the booking id the server acknowledged and did not cancel
        self.statuses = Counter()

    def resync(self):
        """After a lost answer, learn from the server what it holds."""
        while True:
            status, payload, _ = timed_call(
                "GET", f"{self.base_url}/bookings/my", None, self.headers
            )
            if status == 200:
                self.held = payload[0]["id"] if payload else None
                return

    def step(self, event_id):
        if self.held is None:
            status, payload, _ = book(self.base_url, self.headers, event_id)
            if status == 201:
                self.held = payload["id"]
        else:
            status, _, _ = timed_call(
                "DELETE", f"{self.base_url}/bookings/{self.held}", None, self.headers
            )
            if status == 204:
                self.held = None
        self.statuses[status] += 1
        if status in LOST:
            self.resync()


def storm(ledgers, event_id, seconds, during=None):
    """Have every ledger book and cancel in a loop for `seconds`."""
    deadline = time.monotonic() + seconds

    def client(ledger):
        while time.monotonic() < deadline:
            ledger.step(event_id)
            time.sleep(random.uniform(0, 0.02))

    threads = [threading.Thread(target=client, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    if during:
        during()
    for thread in threads:
        thread.join(timeout=seconds + 60)


def assert_ledgers_match_database(app, ledgers, event_id):
    with app.app_context():
        held = set(
            db.session.scalars(
                select(Booking.id).where(
                    Booking.event_id == event_id, Booking.status.in_(("held", "confirmed"))
                )
            )
        )
    acknowledged = {ledger.held for ledger in ledgers if ledger.held is not None}
    assert held == acknowledged


def test_a_book_and_cancel_storm_never_oversells(database, shared_redis, record_property):
    app, url = database
    event = create_event(app, total_slots=20)
    people = attendees(app, 50)
    engine = create_engine(normalize_database_url(url))
    samples, violations = [], []
    stop = threading.Event()

    def sample():
        query = text(
            "SELECT booked_count + held_count, (SELECT count(*) FROM bookings "
            "WHERE event_id = :id AND status IN ('held', 'confirmed')) FROM events WHERE id = :id"
        )
        with engine.connect() as connection:
            while not stop.is_set():
                counter, rows = connection.execute(query, {"id": event}).one()
                connection.rollback()
                samples.append(rows)
                if rows > 20 or counter != rows:
                    violations.append((counter, rows))
                time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    with instances(url, **shared_redis) as servers:
        ledgers = [Ledger(servers[n % 2].url, h) for n, h in enumerate(people)]
        sampler.start()
        storm(ledgers, event, STORM_SECONDS)
        stop.set()
        sampler.join()
    engine.dispose()
    totals = sum((ledger.statuses for ledger in ledgers), Counter())
    record_property("storm_seconds", STORM_SECONDS)
    record_property("storm_statuses", dict(totals))
    record_property("storm_samples", len(samples))
    assert set(totals) <= {201, 204, 400}, totals
    assert totals[201] > 100 and totals[204] > 100, totals  # the storm really stormed
    assert violations == [] and max(samples) == 20, (violations, len(samples))
    assert_ledgers_match_database(app, ledgers, event)
    assert_integrity(app)


def test_a_worker_killed_mid_storm_loses_no_acknowledged_booking(
    database, shared_redis, record_property
):
    app, url = database
    event = create_event(app, total_slots=1000)
    people = attendees(app, 40)
    with instances(url, **shared_redis) as servers:
        victim = servers[0]
        workers_before = set(victim.worker_pids())
        ledgers = [Ledger(servers[n % 2].url, h) for n, h in enumerate(people)]

        def kill_a_worker():
            time.sleep(2)
            victim.kill_worker()

        storm(ledgers, event, 6, during=kill_a_worker)
        workers_after = set(victim.worker_pids())
    totals = sum((ledger.statuses for ledger in ledgers), Counter())
    record_property("kill_statuses", {str(k): v for k, v in totals.items()})
    assert set(totals) <= {201, 204} | LOST, totals
    assert len(workers_after) == 2 and workers_after != workers_before  # gunicorn replaced it
    assert_ledgers_match_database(app, ledgers, event)
    assert_integrity(app)


def test_a_database_restart_is_a_clean_503_and_the_service_recovers(
    redis_url, key_prefix, record_property
):
    server = PrivatePostgres().start()
    try:
        with services.throwaway_database(server.url) as url:
            _restart_scenario(url, server, redis_url, key_prefix, record_property)
    finally:
        server.destroy()


def _restart_scenario(url, server, redis_url, key_prefix, record_property):
    app = build_schema(url)
    event = create_event(app, total_slots=100)
    people = attendees(app, 12)
    environment = {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": key_prefix}
    acknowledged = []
    with instances(url, **environment) as servers:
        before = [book(servers[n % 2].url, h, event) for n, h in enumerate(people[:4])]
        acknowledged += [payload["id"] for status, payload, _ in before if status == 201]
        assert len(acknowledged) == 4

        server.stop()
        during = in_parallel(
            lambda n, h: book(servers[n % 2].url, h, event), list(enumerate(people[4:8]))
        ) + [timed_call("GET", f"{s.url}/events/{event}") for s in servers]
        ready_during = [timed_call("GET", f"{s.url}/health/ready") for s in servers]
        assert all(result[:2] == (503, UNAVAILABLE) for result in during), during
        assert all(seconds < 5 for _, _, seconds in during + ready_during)
        assert [status for status, _, _ in ready_during] == [503, 503]
        record_property(
            "outage_slowest_answer_seconds", round(max(r[2] for r in during + ready_during), 3)
        )
        assert ready_during[0][1]["message"] == "Not ready: database unavailable"

        server.start()
        restarted = time.monotonic()
        while any(timed_call("GET", f"{s.url}/health/ready")[0] != 200 for s in servers):
            assert time.monotonic() < restarted + 30, "the service did not recover by itself"
            time.sleep(0.2)
        record_property("ready_after_restart_seconds", round(time.monotonic() - restarted, 2))
        after = [book(servers[n % 2].url, h, event) for n, h in enumerate(people[4:])]
        assert [status for status, _, _ in after] == [201] * 8
        acknowledged += [payload["id"] for _, payload, _ in after]
    with app.app_context():
        stored = set(db.session.scalars(select(Booking.id)))
        db.engine.dispose()
    assert stored == set(acknowledged)
    assert_integrity(app)


def test_without_redis_bookings_go_on_and_limits_are_shared_again_after(database, record_property):
    app, url = database
    events = [create_event(app, total_slots=500) for _ in range(6)]
    cache = PrivateRedis().start()
    environment = {"RATELIMIT_STORAGE_URI": cache.url, "BOOKING_RATE_LIMIT": "5 per minute"}
    try:
        with instances(url, **environment) as servers:
            assert timed_call("GET", f"{servers[0].url}/health/ready")[0] == 200

            cache.stop()
            people = attendees(app, 8)
            results = [book(servers[n % 2].url, h, events[0]) for n, h in enumerate(people)]
            assert [status for status, _, _ in results] == [201] * 8
            status, payload, _ = timed_call("GET", f"{servers[0].url}/health/ready")
            assert (status, payload["message"]) == (
                503,
                "Not ready: rate_limit_storage unavailable",
            )
            assert any(
                "falling back to in-memory storage" in server.log_text() for server in servers
            )

            cache.start()
            restarted = time.monotonic()
            deadline = restarted + 90
            while True:
                [headers] = attendees(app, 1)
                statuses = sorted(book(servers[n % 2].url, headers, events[n])[0] for n in range(6))
                if statuses == [201] * 5 + [429]:
                    break  # one limit again, counted in Redis by every process
                assert set(statuses) == {201}, statuses
                assert time.monotonic() < deadline, "limits were not shared again"
                time.sleep(1)
            record_property("limits_shared_again_seconds", round(time.monotonic() - restarted, 1))
            assert timed_call("GET", f"{servers[0].url}/health/ready")[0] == 200
    finally:
        cache.stop()
    assert_integrity(app)


# -- Behind nginx: slow clients and the real client address ------------------

HEADER_TIMEOUT = 10  # client_header_timeout in deploy/nginx/eventbook.conf
# One worker of 4 threads: 8 slow clients are twice what it can serve at once.
SMALL = {"workers": 1, "threads": 4}


def slow_client(url, seconds, started_header=None):
    """Send a request's header one line every 2 s, for at most `seconds`.

    `started_header` (a semaphore) is released once the first line is sent.

    :returns: how long the server kept the connection open, or None if it
        was still open after `seconds`.
    """
    address = urllib.parse.urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=2) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n")
        if started_header:
            started_header.release()
        while time.monotonic() - started < seconds:
            try:
                sock.recv(4096)  # an answer or the end: the server gave up on us
                return time.monotonic() - started
            except TimeoutError:
                pass
            except OSError:
                return time.monotonic() - started
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return time.monotonic() - started
    return None


def under_slow_clients(url, seconds, probe):
    """Run `probe()` while 8 slow clients hold connections to `url`.

    :returns: the probe's result and, per slow client, what `slow_client` said.
    """
    kept = [None] * 8
    started = threading.Semaphore(0)
    threads = [
        threading.Thread(target=lambda n=n: kept.__setitem__(n, slow_client(url, seconds, started)))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for _ in threads:  # every slow client has connected and started its header
        assert started.acquire(timeout=10)
    time.sleep(0.5)  # and the server has read it
    result = probe()
    for thread in threads:
        thread.join(timeout=seconds + 10)
    return result, kept


def health_and_a_booking(url, headers, event_id):
    return [
        timed_call("GET", f"{url}/health", timeout=5)[0],
        book(url, headers, event_id)[0] if headers else None,
    ]


def test_slow_clients_do_not_starve_the_service_behind_nginx(
    database, shared_redis, record_property
):
    app, url = database
    event = create_event(app, total_slots=10)
    [headers] = attendees(app, 1)
    with instances(url, count=1, **SMALL, **shared_redis) as [server]:
        statuses, kept = under_slow_clients(
            server.url, HEADER_TIMEOUT + 6, lambda: health_and_a_booking(server.url, headers, event)
        )
    record_property("slow_clients_cut_after_seconds", [round(k, 1) for k in kept if k])
    assert statuses == [200, 201]
    # nginx cuts every slow client off once its header has taken too long.
    assert all(k is not None and k < HEADER_TIMEOUT + 3 for k in kept), kept


def test_control_slow_clients_starve_gunicorn_without_nginx(database, shared_redis):
    """The test above must be able to fail: straight to gunicorn's stock gthread
    worker (eventbook's own worker takes no thread before a request's head has
    arrived), the same 8 slow clients hold every thread."""
    _, url = database
    stock = {"GUNICORN_CMD_ARGS": "--worker-class gthread"}
    with instances(url, count=1, proxy=False, **SMALL, **shared_redis, **stock) as [server]:
        statuses, kept = under_slow_clients(
            server.direct_url, 6, lambda: health_and_a_booking(server.direct_url, None, None)
        )
    assert statuses[0] is None, "gunicorn answered while slow clients held its threads"
    assert kept == [None] * 8  # gunicorn itself never cut them off


def failed_login(url, source, forwarded_for):
    """Fail a login from the local address `source`, claiming `forwarded_for`."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        address.hostname, address.port, timeout=10, source_address=(source, 0)
    )
    body = json.dumps({"email": "nobody@example.com", "password": "wrong-password"})
    try:
        connection.request(
            "POST",
            "/auth/login",
            body,
            {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("trusted_proxies, other_client", [("1", 401), ("0", 429)])
def test_the_login_limit_counts_the_real_client_behind_nginx(
    database, shared_redis, trusted_proxies, other_client
):
    """With TRUSTED_PROXIES=1 the limit follows the address nginx saw, whatever
    X-Forwarded-For the client sends. Without it (the control), every client
    shares nginx's address, so a second client is refused too."""
    _, url = database
    environment = {
        **shared_redis,
        "TRUSTED_PROXIES": trusted_proxies,
        "LOGIN_ADDRESS_RATE_LIMIT": "5 per minute",
    }
    with instances(url, count=1, **environment) as [server]:
        spoofed = [failed_login(server.url, "127.0.0.2", f"203.0.113.{n}") for n in range(1, 8)]
        other = failed_login(server.url, "127.0.0.3", "203.0.113.1")
    assert spoofed == [401] * 5 + [429] * 2
    assert other == other_client


# -- Through PgBouncer in transaction pooling mode ---------------------------


@pytest.fixture
def pgbouncer(postgresql_server):
    bouncer = PrivatePgBouncer(postgresql_server, pool_size=4).wait_until_up()
    yield bouncer
    bouncer.stop()


def pgbouncer_transactions(bouncer, database_url):
    """How many transactions PgBouncer passed to `database_url`'s database."""
    name = make_url(database_url).database
    admin = make_url(services.libpq_dsn(bouncer.url_for(database_url))).set(database="pgbouncer")
    connection = psycopg2.connect(admin.render_as_string(hide_password=False))
    connection.autocommit = True  # the admin console has no transactions
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW STATS")
            columns = [column.name for column in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
    return next(int(row["total_xact_count"]) for row in rows if row["database"] == name)


POOLED = {"DATABASE_TRANSACTION_POOLING": "1"}


def test_through_pgbouncer_the_timeouts_are_set_per_transaction(database, pgbouncer):
    """PgBouncer refuses the session options a direct connection carries;
    with DATABASE_TRANSACTION_POOLING every transaction sets them itself."""
    _, url = database
    settings = {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": pgbouncer.url_for(url)}
    direct = create_app(settings)
    with direct.app_context():
        with pytest.raises(OperationalError, match="unsupported startup parameter: options"):
            db.session.execute(text("SELECT 1"))
        db.engine.dispose()
    pooled = create_app({**settings, "DATABASE_TRANSACTION_POOLING": True})
    with pooled.app_context():
        for _ in range(5):  # whichever server connection each transaction gets
            shown = db.session.execute(text("SHOW lock_timeout")).scalar()
            assert (shown, db.session.execute(text("SHOW statement_timeout")).scalar()) == (
                "5s",
                "15s",
            )
            db.session.commit()
        db.engine.dispose()


def test_two_hundred_users_race_for_ten_slots_through_pgbouncer(
    database, pgbouncer, record_property
):
    """2 instances of 2 workers of 4 threads share 4 server connections."""
    app, url = database
    event = create_event(app, total_slots=10)
    people = attendees(app, 200)
    environment = {"BOOKING_RATE_LIMIT": "100000 per minute", **POOLED}
    with instances(pgbouncer.url_for(url), **environment) as servers:
        results = in_parallel(
            lambda n, headers: book(servers[n % 2].url, headers, event), list(enumerate(people))
        )
    assert Counter(map(outcome, results)) == {
        (201, None): 10,
        (400, "Event is fully booked"): 190,
    }
    assert counts(app, event) == (10, 10)
    assert_integrity(app)
    transactions = pgbouncer_transactions(pgbouncer, url)
    record_property("pgbouncer_transactions", transactions)
    assert transactions >= 200


def test_a_booking_stuck_behind_a_lock_is_a_503_through_pgbouncer(database, pgbouncer):
    """lock_timeout reaches the server through the pooler: a booking that waits
    on a locked event gives up after 5 s with the uniform 503."""
    app, url = database
    event = create_event(app, total_slots=10)
    [headers] = attendees(app, 1)
    blocker = psycopg2.connect(services.libpq_dsn(url))
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (event,))
            with instances(pgbouncer.url_for(url), count=1, workers=1, **POOLED) as [server]:
                status, payload, _ = book(server.url, headers, event)
        blocker.rollback()
    finally:
        blocker.close()
    assert (status, payload) == (503, UNAVAILABLE)
    assert counts(app, event) == (0, 0)
