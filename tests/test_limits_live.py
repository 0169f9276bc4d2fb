"""Rate limits under concurrency and faults, on gunicorn with PostgreSQL and Redis.

Each scenario runs against the real application; its control runs the same
scenario against `tests/faulty_wsgi.py` with the defect put back, to show
that the scenario catches it.
"""

import json
import signal
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager

import pytest

from tests.cluster import PrivateRedis, in_parallel, instances, timed_call
from tests.conftest import PASSWORD
from tests.live import call

pytestmark = [pytest.mark.postgresql, pytest.mark.redis, pytest.mark.live]

WRONG = "wrong-password"
CONTROL_APP = "tests.faulty_wsgi:app"


@pytest.fixture
def database_url(migrated_postgresql_database):
    return migrated_postgresql_database


@pytest.fixture
def redis_server():
    """A Redis server of the test's own, that it may pause."""
    server = PrivateRedis().start()
    yield server
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()


@contextmanager
def server(database_url, redis_server, faults="", **environment):
    """One gunicorn (2 workers, 4 threads each) of the application; yield its URL and log."""
    options = {"app": CONTROL_APP, "EVENTBOOK_TEST_FAULTS": faults} if faults else {}
    environment = {
        "RATELIMIT_STORAGE_URI": redis_server.url,
        "LOG_LEVEL": "INFO",
        **options,
        **environment,
    }
    with instances(database_url, count=1, **environment) as [instance]:
        yield instance


def login(url, email, password=WRONG):
    status, _, headers = call("POST", f"{url}/auth/login", {"email": email, "password": password})
    return status, headers


def storm_of_logins(url, email, passwords):
    """Send one login per password, all at once; return the statuses by count."""
    results = in_parallel(login, [(url, email, password) for password in passwords])
    return Counter(status for status, _ in results)


# Kind: a limit checked before it is counted.


def test_forty_concurrent_wrong_passwords_get_exactly_ten_checks(
    app, database_url, redis_server, make_user, record_property
):
    user = make_user()
    with server(database_url, redis_server) as instance:
        statuses = storm_of_logins(instance.url, user.email, [WRONG] * 40)
    assert statuses == {401: 10, 429: 30}
    record_property("wrong_passwords_checked_of_40", statuses[401])


def test_control_counting_after_the_answer_lets_more_through(
    app, database_url, redis_server, make_user, record_property
):
    user = make_user()
    with server(database_url, redis_server, faults="counted-after") as instance:
        statuses = storm_of_logins(instance.url, user.email, [WRONG] * 40)
    assert statuses[401] > 10
    record_property("control_wrong_passwords_checked_of_40", statuses[401])


def test_successes_racing_failures_never_let_more_than_ten_failures_through(
    app, database_url, redis_server, make_user
):
    user = make_user()
    with server(database_url, redis_server) as instance:
        first = storm_of_logins(instance.url, user.email, [WRONG, PASSWORD] * 12)
        # The successes gave their hits back: what is left of the ten is free.
        later = storm_of_logins(instance.url, user.email, [WRONG] * 12)
        after_success = login(instance.url, user.email, PASSWORD)[0]
    assert first[200] >= 1
    assert first[401] + later[401] == 10
    assert set(first) <= {200, 401, 429} and set(later) <= {401, 429}
    assert after_success == 429  # while the limit is reached, the right password waits too


def test_every_login_attempt_for_one_email_is_counted_before_the_check(
    app, database_url, redis_server, make_user
):
    user = make_user()
    # Logins from many addresses would each have their own failure limits;
    # the per-email limit counts all of them, successes included.
    with server(database_url, redis_server, LOGIN_ACCOUNT_RATE_LIMIT="30 per 10 minutes") as inst:
        statuses = storm_of_logins(inst.url, user.email, [PASSWORD] * 40)
        status, headers = login(inst.url, user.email, PASSWORD)
    assert statuses == {200: 30, 429: 10}
    assert status == 429 and int(headers["Retry-After"]) > 0


def test_event_creation_is_limited_per_user_exactly(
    app, database_url, redis_server, make_user, auth_headers
):
    headers = auth_headers(make_user())
    event = {"title": "Talk", "location": "Hall", "event_date": "2099-01-01T10:00:00Z"}
    event["total_slots"] = 10

    def create():
        return call("POST", f"{instance.url}/events", event, headers)[0]

    with server(database_url, redis_server, EVENT_CREATE_RATE_LIMIT="20 per hour") as instance:
        statuses = Counter(in_parallel(create, [()] * 30))
    assert statuses == {201: 20, 429: 10}


# Kind: a key function that raises sends the process to its in-memory counters.


def raw_post(url, body, content_type="application/json"):
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        # The server may answer 413 and close before the body is all sent.
        return None


MALFORMED_BODIES = [
    b"[" * 5000 + b"]" * 5000,  # deeper than json.loads can go
    b'{"email": "' + b"x" * (2 * 1024 * 1024) + b'"}',  # over the 1 MiB limit
    b'{"email": 1e999999, "password": "x"}',
    b"\xff\xfe not utf-8",
    b"9" * 5000,  # past Python's integer digit limit
    b'{"email": ["not", "text"], "password": "x"}',  # valid JSON, an email that is no text
]


def wrong_logins_among_malformed_bodies(url, email):
    """Try 30 wrong passwords, each after every malformed body; return the statuses."""
    statuses = Counter()
    for _ in range(30):
        for body in MALFORMED_BODIES:
            raw_post(f"{url}/auth/login", body)
        statuses[login(url, email)[0]] += 1
    return statuses


def test_malformed_bodies_never_lose_the_failed_login_count(
    app, database_url, redis_server, make_user
):
    user = make_user()
    with server(database_url, redis_server) as instance:
        statuses = wrong_logins_among_malformed_bodies(instance.url, user.email)
        log = instance.log_text()
    assert statuses == {401: 10, 429: 20}
    assert "Rate limit storage unreachable" not in log


def test_control_a_raising_key_function_loses_the_count(
    app, database_url, redis_server, make_user, record_property
):
    user = make_user()
    with server(database_url, redis_server, faults="raising-key") as instance:
        statuses = wrong_logins_among_malformed_bodies(instance.url, user.email)
        log = instance.log_text()
    # The harness above fails on this: the limiter left its storage for memory.
    # (How many passwords then get checked depends on when it returns to Redis;
    # bodies the boundary refuses never reach a key function at all.)
    assert "Rate limit storage unreachable" in log
    record_property("control_wrong_passwords_checked_of_30", statuses[401])


# Kind: a Redis that stalls instead of refusing.


def book_once_each(url, headers_list, event_id):
    return in_parallel(
        lambda headers: timed_call("POST", f"{url}/bookings", {"event_id": event_id}, headers),
        [(headers,) for headers in headers_list],
    )


def stalled_redis_bookings(app_fixtures, redis_server, instance):
    make_user, make_event, auth_headers = app_fixtures
    event = make_event(total_slots=1000)
    people = [auth_headers(make_user()) for _ in range(30)]
    assert timed_call("GET", f"{instance.url}/health/ready")[0] == 200
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        results = book_once_each(instance.url, people, event.id)
        logins = in_parallel(login, [(instance.url, "nobody@example.com")] * 8)
        ready = timed_call("GET", f"{instance.url}/health/ready")
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    return results, logins, ready


def test_a_stalled_redis_is_a_dead_one_bookings_go_on_without_5xx(
    app, database_url, redis_server, make_user, make_event, auth_headers, record_property
):
    fixtures = (make_user, make_event, auth_headers)
    with server(database_url, redis_server, BOOKING_RATE_LIMIT="5 per minute") as instance:
        results, logins, ready = stalled_redis_bookings(fixtures, redis_server, instance)
        # Once Redis answers again, every process shares the limits again.
        headers = auth_headers(make_user())
        event = make_event(total_slots=1000)
        deadline = time.monotonic() + 90
        while True:
            statuses = sorted(
                call("POST", f"{instance.url}/bookings", {"event_id": event.id}, headers)[0]
                for _ in range(6)
            )
            if statuses.count(429) and redis_limit_seen(redis_server):
                break
            assert time.monotonic() < deadline, "the limits did not return to Redis"
            headers = auth_headers(make_user())
            time.sleep(1)
        log = instance.log_text()
    assert [status for status, _, _ in results] == [201] * 30
    assert {status for status, _ in logins} == {401}
    assert ready[0] == 503
    assert "falling back to in-memory storage" in log
    assert " 500 " not in log
    record_property("slowest_booking_seconds_redis_stalled", round(max(r[2] for r in results), 2))


def redis_limit_seen(redis_server):
    """Whether the booking limit is counted in this Redis again."""
    import redis

    connection = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    return any(b"booking" in key for key in connection.scan_iter("*"))


def test_control_a_stalled_redis_with_the_library_defaults_gives_5xx(
    app, database_url, redis_server, make_user, make_event, auth_headers, record_property
):
    fixtures = (make_user, make_event, auth_headers)
    with server(database_url, redis_server, faults="slow-storage") as instance:
        results, logins, _ = stalled_redis_bookings(fixtures, redis_server, instance)
    statuses = Counter(status for status, _, _ in results) + Counter(s for s, _ in logins)
    assert any(status is None or status >= 500 for status in statuses)
    record_property("control_statuses_redis_stalled", json.dumps(dict(statuses)))


# Kind: the headers tell the wrong limit.


def test_the_headers_describe_the_limit_that_refuses_first(
    app, database_url, redis_server, make_user
):
    user = make_user()
    with server(database_url, redis_server) as instance:
        answers = [login(instance.url, user.email) for _ in range(10)]
        refused = login(instance.url, user.email)
    first_status, first = answers[0]
    tenth_status, tenth = answers[-1]
    assert (first_status, first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == (
        401,
        "10",
        "9",
    )
    assert (tenth_status, tenth["X-RateLimit-Limit"], tenth["X-RateLimit-Remaining"]) == (
        401,
        "10",
        "0",
    )
    assert refused[0] == 429
    assert (refused[1]["X-RateLimit-Limit"], refused[1]["X-RateLimit-Remaining"]) == ("10", "0")
