"""Framing, refusals and slow clients against the real server: gunicorn with gunicorn.conf.py.

Every test talks to gunicorn over real sockets, with inputs Hypothesis
generates: early answers must leave a usable connection (or say
``Connection: close``), a chunked body is held to the body limit, gunicorn's
own refusals carry the JSON error body, and slow clients do not stop others
from being served. A control run shows that the stock worker would fail the
slow-client test.
"""

import contextlib
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import Config
from tests.live import call, gunicorn, migrate_and_seed

pytestmark = pytest.mark.live

LIMIT = Config.MAX_CONTENT_LENGTH
# One worker of four threads: a handful of stuck threads would show at once.
SERVER = {"workers": 1, "GUNICORN_THREADS": "4", "BOOKING_RATE_LIMIT": "1000 per minute"}


def live(max_examples):
    """Hypothesis settings for examples sent to the module's one server."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The base URL of gunicorn serving the demo data, and a demo user's access token."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('server') / 'eventbook.db'}"
    migrate_and_seed(database_url)
    with gunicorn(database_url, **SERVER) as url:
        _, tokens, _ = call(
            "POST", f"{url}/auth/login", {"email": "user1@test.com", "password": "password123"}
        )
        yield url, tokens["access_token"]


def address(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port


@contextlib.contextmanager
def connection(url, timeout=10):
    with socket.create_connection(address(url), timeout=timeout) as sock:
        yield sock


def read_response(sock):
    """Read one response; return (status, headers with lower-case names, body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response: {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock, within=5):
    """Whether the server closes `sock` within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def assert_error_body(status, headers, body):
    assert headers["content-type"].startswith("application/json")
    assert headers["x-request-id"]
    payload = json.loads(body)
    assert payload["error"] is True and payload["status_code"] == status
    assert isinstance(payload["message"], str) and payload["message"]


def chunked(payload, size=65536):
    framed = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + size]), payload[i : i + size])
        for i in range(0, len(payload), size)
    )
    return framed + b"0\r\n\r\n"


# --- kind 2: an early answer leaves a connection the client can use ---

EARLY_ANSWERS = {
    # name: (method, path, content type, whether the caller's token is sent)
    "404 unknown route": ("POST", "/nowhere", "application/json", False),
    "405 wrong method": ("PUT", "/events", "application/json", False),
    "401 no token": ("POST", "/bookings", "application/json", False),
    "415 not JSON": ("POST", "/auth/login", "text/plain", False),
    "413 or 400 register": ("POST", "/auth/register", "application/json", False),
}


@live(25)
@given(
    answer=st.sampled_from(sorted(EARLY_ANSWERS)),
    size=st.integers(0, LIMIT + 256 * 1024) | st.integers(LIMIT - 1024, LIMIT + 1024),
)
def test_an_early_answer_leaves_the_connection_usable(server, answer, size):
    url, _ = server
    method, path, content_type, _ = EARLY_ANSWERS[answer]
    client = http.client.HTTPConnection(*address(url), timeout=10)
    try:
        try:
            client.request(method, path, body=b"x" * size, headers={"Content-Type": content_type})
        except (BrokenPipeError, ConnectionResetError):
            # Over the limit the server may answer and close before the client
            # has sent it all (RFC 9112 section 9.6); the next request must
            # still get an answer, on a new connection as a client opens one.
            assert size > LIMIT
            client.close()
            client.request("GET", "/health")
            assert client.getresponse().status == 200
            return
        first = client.getresponse()
        first.read()
        assert first.status in (400, 401, 404, 405, 413, 415)
        if size > LIMIT:
            assert first.status == 413 or (first.status in (404, 405))
            assert first.getheader("Connection") == "close"
        # http.client reconnects after "Connection: close", as every pooling
        # client does; a connection announced as kept alive must answer.
        client.request("GET", "/health")
        second = client.getresponse()
        assert (second.status, json.loads(second.read())) == (200, {"status": "ok"})
    finally:
        client.close()


# --- kind 3: the body limit does not depend on framing ---


@live(12)
@given(size=st.integers(LIMIT - 64, LIMIT + 64) | st.integers(0, 3 * LIMIT))
def test_a_chunked_body_is_held_to_the_limit(server, size):
    url, _ = server
    document = b'{"email": "user1@test.com", "password": "password123"}'
    payload = document + b" " * max(size - len(document), 0)
    with connection(url) as sock:
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked(payload)
        )
        status, headers, body = read_response(sock)
    if len(payload) > LIMIT:
        assert status == 413
        assert_error_body(status, headers, body)
    else:
        assert status == 200
    assert headers["connection"] == "close"  # the server cannot know the end beforehand


def test_an_oversized_chunked_booking_books_nothing(server):
    url, token = server
    before = call("GET", f"{url}/bookings/my", headers={"Authorization": f"Bearer {token}"})[1]
    payload = b'{"event_id": 7}' + b" " * (2 * LIMIT)
    with connection(url) as sock:
        sock.sendall(
            b"POST /bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked(payload)
        )
        status, _, _ = read_response(sock)
    after = call("GET", f"{url}/bookings/my", headers={"Authorization": f"Bearer {token}"})[1]
    assert status == 413
    assert after == before


# --- kind 4: gunicorn's own refusals read like the service's ---


@live(20)
@given(
    request=st.one_of(
        st.integers(4095, 12_000).map(lambda n: b"GET /events?q=" + b"a" * n + b" HTTP/1.1"),
        st.integers(8191, 20_000).map(lambda n: b"GET /events HTTP/1.1\r\nX-Big: " + b"a" * n),
        # Headers each within gunicorn's limits, together over 64 KiB.
        st.integers(9, 31).map(
            lambda n: (
                b"GET /events HTTP/1.1\r\n"
                + b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 8000) for i in range(n))
            )
        ),
        st.integers(33, 300).map(
            lambda n: b"GET /events HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(n))
        ),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
            lambda line: line.encode() + b" / HTTP/1.1"
        ),
        st.binary(max_size=40).filter(lambda data: b"\r\n" not in data),
    )
)
def test_every_refusal_has_the_error_body_and_a_request_id(server, request):
    url, _ = server
    with connection(url) as sock:
        sock.sendall(request.rstrip(b"\r\n") + b"\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock)
    if status >= 400:  # a few generated lines are valid requests
        assert_error_body(status, headers, body)


# --- kind 6: slow clients hold no thread that others need ---


@contextlib.contextmanager
def slow_clients(url, starts):
    """Open a connection per start in `starts` (bytes sent, then nothing); close them after."""
    with contextlib.ExitStack() as stack:
        for start in starts:
            sock = stack.enter_context(connection(url))
            if start:
                sock.sendall(start)
        time.sleep(0.3)  # let the server take them in
        yield


SLOW_STARTS = st.sampled_from(
    [
        b"",  # connects and says nothing
        b"GET /events HTTP/1.1\r\n",  # one line of a head, then silence
        b"GET /events HTTP/1.1\r\nHost: x\r\n",
        b"G",
        # a whole request, then part of the next one on the same connection
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /events HTTP/1.1\r\n",
    ]
)


@live(6)
@given(starts=st.lists(SLOW_STARTS, min_size=8, max_size=60))
def test_slow_clients_do_not_stop_others_being_served(server, starts):
    url, _ = server
    with slow_clients(url, starts):
        status, body, _ = call("GET", f"{url}/health", timeout=3)
    assert (status, body) == (200, {"status": "ok"})


def test_two_hundred_silent_connections_do_not_stop_others_being_served(server):
    url, _ = server
    with slow_clients(url, [b""] * 200):
        status, _, _ = call("GET", f"{url}/health", timeout=3)
    assert status == 200


def test_a_head_that_does_not_arrive_is_dropped_after_the_keepalive_time(server):
    url, _ = server
    with connection(url) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(sock, within=7)  # keepalive (5 s) and a poll


def test_a_body_that_stops_arriving_is_a_408(server):
    url, _ = server
    with connection(url, timeout=20) as sock:
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        status, headers, body = read_response(sock)  # after SOCKET_TIMEOUT (10 s)
    assert status == 408
    assert_error_body(status, headers, body)


def test_control_the_stock_worker_is_stopped_by_slow_clients(tmp_path):
    """The slow-client tests can fail: gunicorn's stock threaded worker fails them."""
    database_url = f"sqlite:///{tmp_path / 'eventbook.db'}"
    stock = gunicorn(database_url, arguments=["--worker-class", "gthread"], **SERVER)
    slow = [b"GET /events HTTP/1.1\r\n"] * 8
    with stock as url, slow_clients(url, slow), pytest.raises(TimeoutError):
        call("GET", f"{url}/health", timeout=3)
