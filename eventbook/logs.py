"""Logging: one line per request, as readable text or JSON lines (`LOG_FORMAT`).

Every line goes to standard error, tagged with the id of the request it
belongs to. The request line carries the method, the path (never the query
string), the status, the duration, the id of the authenticated user and the
client address; no header or body is ever logged, so no password or token is.
"""

import json
import logging
import re
import sys
import time

from flask import g, has_request_context, request
from flask_jwt_extended import get_jwt_identity

from eventbook.middleware import request_id

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "user_id", "remote_addr")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

request_log = logging.getLogger("eventbook.request")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id() if has_request_context() else "-"
        return True


class UTCFormatter(logging.Formatter):
    """Timestamps in UTC, ISO 8601, to the millisecond."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


class TextFormatter(UTCFormatter):
    def __init__(self):
        super().__init__(TEXT_FORMAT)


class JsonFormatter(UTCFormatter):
    """One JSON object per line."""

    def format(self, record):
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", "-") != "-":
            entry["request_id"] = record.request_id
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class StderrHandler(logging.StreamHandler):
    """Write to the current `sys.stderr`, even after it was replaced."""

    eventbook = True

    def __init__(self):
        super().__init__()
        self.addFilter(RequestIdFilter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def install_handler(log_format):
    """Give the root logger one handler writing `log_format` lines to stderr.

    :raises RuntimeError: `log_format` is not one of `LOG_FORMATS`.
    """
    if log_format not in LOG_FORMATS:
        raise RuntimeError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}"
        )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "eventbook", False)), None)
    if handler is None:
        handler = StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def printable(text):
    """Escape control characters, so that a path cannot forge a log line."""
    return CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _authenticated_user_id():
    try:
        identity = get_jwt_identity()
    except RuntimeError:  # no access token was checked for this request
        return None
    return int(identity) if identity is not None and identity.isdigit() else None


def _start_timer():
    g.request_started = time.perf_counter()


def _log_request(response):
    started = g.get("request_started")
    fields = {
        "method": request.method,
        "path": printable(request.path),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "user_id": _authenticated_user_id(),
        "remote_addr": request.remote_addr,
    }
    request_log.info(
        "%s %s %s %sms user=%s addr=%s",
        fields["method"],
        fields["path"],
        fields["status"],
        fields["duration_ms"],
        fields["user_id"] or "-",
        fields["remote_addr"],
        extra=fields,
    )
    return response


def configure_logging(app):
    """Log in `LOG_FORMAT` at `LOG_LEVEL`, one line per request."""
    install_handler(app.config["LOG_FORMAT"])
    logging.getLogger("eventbook").setLevel(app.config["LOG_LEVEL"])
    app.before_request(_start_timer)
    app.after_request(_log_request)
