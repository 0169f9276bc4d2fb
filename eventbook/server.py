"""gunicorn's worker for eventbook: what a slow or malformed client can hold, and how
gunicorn's own refusals read. Named by ``worker_class`` in gunicorn.conf.py.

In production nginx (deploy/) sits in front and buffers every request, so gunicorn
only ever sees whole requests from nearby; these bounds hold when it does not:

- a connection holds no thread until its whole request head (request line and
  headers) has arrived: the head is gathered by the worker's event loop, and a
  connection whose head is not complete within ``keepalive`` seconds of its
  opening (or of its previous answer) is closed;
- a request body must arrive within `BODY_TIMEOUT` seconds, and writing an
  answer waits at most `SOCKET_TIMEOUT` seconds for the client;
- a request whose body will not be read to its end (larger than the body limit,
  or chunked, whose end is unknown) is answered with ``Connection: close``, so a
  client never reuses a connection the server is about to close;
- gunicorn's refusals (400 malformed request, 414 request line too long, 431
  headers too large) carry the service's JSON error body and an X-Request-ID.
"""

import errno
import json
import selectors
import time
import uuid
from functools import partial

from gunicorn import util
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

from config import Config

SOCKET_TIMEOUT = 10
# At least 35 KB/s for a body of the largest size allowed (1 MiB).
BODY_TIMEOUT = 30
HEAD_END = b"\r\n\r\n"

_MESSAGES = {
    400: "The request is not valid HTTP",
    414: "The request line (method, path and query) is too long",
    431: "The request headers are too large",
}


def write_json_error(sock, status_int, reason, mesg):
    """Send gunicorn's refusal with the uniform error body, then the connection closes."""
    body = json.dumps(
        {"error": True, "message": _MESSAGES.get(status_int, reason), "status_code": status_int}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {uuid.uuid4().hex}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def max_head_bytes(cfg):
    """The size of the largest request head gunicorn's limits let through."""
    return (
        (cfg.limit_request_line + 2)
        + cfg.limit_request_fields * (cfg.limit_request_field_size + 2)
        + 2
    )


class Worker(ThreadWorker):
    """gunicorn's threaded worker, handing a connection to a thread only with a whole head."""

    def init_process(self):
        # gunicorn writes its refusals through this function only.
        util.write_error = write_json_error
        super().init_process()

    def accept(self, listener):
        try:
            sock, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._gather_head(TConn(self.cfg, sock, address, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._gather_head(conn)

    def finish_request(self, conn, fs):
        try:
            kept_alive = not fs.cancelled() and fs.result() is True
        except Exception:
            kept_alive = False
        if kept_alive and self.alive and conn.parser.unreader.buf.getvalue():
            # The client sent more behind its request: perhaps only part of a head.
            self._gather_head(conn, conn.parser.unreader.take_buffered())
            return
        super().finish_request(conn, fs)

    def _gather_head(self, conn, received=b""):
        """Wait, without a thread, for a request head on `conn` (closed after keepalive s)."""
        conn.sock.setblocking(False)
        conn.head = bytearray(received)
        if self._head_arrived(conn):
            return
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_readable, conn))

    def _on_head_readable(self, conn, client):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.head += data
        if data and HEAD_END not in conn.head and len(conn.head) <= max_head_bytes(self.cfg):
            return
        self.poller.unregister(client)
        self.pending_conns.remove(conn)
        if data:
            self._head_arrived(conn)
        else:
            self.nr_conns -= 1
            conn.close()

    def _head_arrived(self, conn):
        """Hand `conn` to a thread if its head is whole; return whether it was."""
        if HEAD_END not in conn.head and len(conn.head) <= max_head_bytes(self.cfg):
            return False
        # A whole head, or more than any head the limits allow (the parser
        # refuses it from what is here): a thread can take it without waiting.
        conn.init()
        conn.parser.unreader.unread(bytes(conn.head))
        conn.data_ready = True
        self.enqueue_req(conn)
        return True


class _BodyDeadline:
    """A client socket whose reads end at `deadline` (a `time.monotonic()` value)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline

    def recv(self, size):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("The request body did not arrive in time")
        self.sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        try:
            return self.sock.recv(size)
        finally:
            self.sock.settimeout(SOCKET_TIMEOUT)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def pre_request(worker, req):
    """Bound each wait on the client; close connections whose body will not be read to its end.

    The application reads bodies up to ``MAX_CONTENT_LENGTH``; gunicorn
    drains at most 64 KiB of what is left before the next request, and
    otherwise closes a connection it announced as kept alive.
    """
    sock = getattr(req.unreader.sock, "sock", req.unreader.sock)
    sock.settimeout(SOCKET_TIMEOUT)
    req.unreader.sock = _BodyDeadline(sock, time.monotonic() + BODY_TIMEOUT)
    reader = req.body.reader
    if isinstance(reader, ChunkedReader) or (
        isinstance(reader, LengthReader) and reader.length > Config.MAX_CONTENT_LENGTH
    ):
        req.force_close()
