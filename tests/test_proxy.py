"""The shipped nginx site: the answers nginx gives itself carry the service's
JSON error body and an X-Request-ID, and slow or oversized requests stop
there. (tests/test_cluster.py runs the application behind it.)"""

import contextlib
import json
import re
import socket
import time

import pytest

from tests.live import free_port
from tests.proxy import Nginx

REQUEST_ID = re.compile(r"[0-9a-f]{32}")
MiB = 1024 * 1024


@contextlib.contextmanager
def nginx(upstream, replace=()):
    server = Nginx([upstream], replace=replace)
    try:
        yield server.wait_until_up()
    finally:
        server.stop()


@contextlib.contextmanager
def silent_upstream():
    """A server that accepts connections and never answers; yields its listener."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        yield listener


def address(listener):
    host, port = listener.getsockname()
    return f"{host}:{port}"


@pytest.fixture(scope="module")
def proxy():
    """nginx in front of a port where nothing listens."""
    with nginx(f"127.0.0.1:{free_port()}") as server:
        yield server


def exchange(server, raw, timeout=10):
    """Send raw bytes; return (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        with contextlib.suppress(ConnectionResetError):  # nginx may drop the unread rest
            while chunk := sock.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def assert_error_body(answer, status):
    code, headers, body = answer
    assert code == status
    assert headers["content-type"] == "application/json"
    assert REQUEST_ID.fullmatch(headers["x-request-id"])
    payload = json.loads(body)
    assert payload["error"] is True and payload["status_code"] == status
    assert payload["message"] and "<" not in payload["message"]


def request(target="/events", headers=(), body=b"", method="GET"):
    lines = [f"{method} {target} HTTP/1.1", "Host: eventbook", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET /events HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (request(headers=["Content-Length: abc"]), 400),
        (request("/events/" + "x" * 9000), 414),
        (request(headers=["X-Padding: " + "x" * 9000]), 431),
        (request(headers=[f"Cookie: {'c=' + 'x' * 9000}"]), 431),
        (request(method="POST", headers=[f"Content-Length: {MiB + 1}"]), 413),
        (request(method="POST", headers=["Transfer-Encoding: chunked"],
                 body=b"%x\r\n" % (MiB + 1) + b"x" * (MiB + 1) + b"\r\n0\r\n\r\n"), 413),
        (request(), 502),  # nothing listens upstream
    ],
)  # fmt: skip
def test_nginx_answers_its_own_errors_with_the_json_body(proxy, raw, status):
    assert_error_body(exchange(proxy, raw), status)


def test_a_sent_request_id_is_kept(proxy):
    _, headers, _ = exchange(proxy, request(headers=["X-Request-ID: trace-42"]))
    assert headers["x-request-id"] == "trace-42"


def test_an_upstream_that_never_answers_is_a_504():
    shorter = [("proxy_read_timeout 35s;", "proxy_read_timeout 1s;")]
    with silent_upstream() as upstream, nginx(address(upstream), shorter) as server:
        answer = exchange(server, request())
    assert_error_body(answer, 504)
    assert answer[1]["retry-after"] == "5"


def test_a_stalled_body_is_cut_off_without_reaching_the_application():
    with silent_upstream() as upstream, nginx(address(upstream)) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(request(method="POST", headers=["Content-Length: 100"], body=b"{"))
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(4096) == b""  # nginx closes without an answer
        elapsed = time.monotonic() - started
        with pytest.raises(BlockingIOError):
            upstream.accept()  # nginx never opened a connection upstream
    assert 9 < elapsed < 15  # client_body_timeout 10s
