"""Prometheus metrics at /metrics: request latency by route and status,
bookings and cancellations by outcome, rate-limit refusals, database pool use.

The endpoint is off unless `METRICS_TOKEN` is set, and then answers only
requests with `Authorization: Bearer <METRICS_TOKEN>`. Under gunicorn
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py) every
worker writes its values to files in `PROMETHEUS_MULTIPROC_DIR`, and a
scrape, whichever worker answers it, adds them all up.
"""

import hmac
import os
import re
import time

import flask
from flask import abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event

from eventbook.errors import error_response
from eventbook.extensions import db

REQUEST_SECONDS = Histogram(
    "eventbook_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route (the URL rule) and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BOOKINGS = Counter(
    "eventbook_bookings", "Booking requests (POST /bookings), by outcome.", ["outcome"]
)
CANCELLATIONS = Counter(
    "eventbook_cancellations",
    "Cancellation requests (DELETE /bookings/{id}), by outcome.",
    ["outcome"],
)
RATE_LIMIT_REFUSALS = Counter(
    "eventbook_rate_limit_refusals", "Requests refused by a rate limit (429), by route.", ["route"]
)
POOL_IN_USE = Gauge(
    "eventbook_db_pool_connections_in_use",
    "Database connections checked out of the pools of the live processes.",
    multiprocess_mode="livesum",
)
POOL_OPEN = Gauge(
    "eventbook_db_pool_connections_open",
    "Database connections the pools of the live processes hold open (in use or idle).",
    multiprocess_mode="livesum",
)
POOL_LIMIT = Gauge(
    "eventbook_db_pool_connections_limit",
    "Most connections the pools of the live processes may open (pool size + overflow).",
    multiprocess_mode="livesum",
)

# Which metric counts the outcomes of which operation, by (method, endpoint).
OUTCOMES = {
    ("POST", "bookings.Bookings"): BOOKINGS,
    ("DELETE", "bookings.BookingById"): CANCELLATIONS,
}
SUCCESS = {201: "booked", 204: "cancelled"}
BY_STATUS = {
    400: "invalid",
    401: "unauthorized",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "not_json",
    429: "rate_limited",
    503: "unavailable",
}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "(unmatched)"

blp = flask.Blueprint("metrics", __name__)


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def outcome(response):
    """Name what a booking or cancellation request came to (a bounded set)."""
    if response.status_code in SUCCESS:
        return SUCCESS[response.status_code]
    domain_error = getattr(response, "domain_error", None)  # see errors.handle_domain_error
    if domain_error is not None:
        return _snake_case(domain_error)
    return BY_STATUS.get(response.status_code, f"status_{response.status_code}")


def _start_timer():
    g.metrics_started = time.perf_counter()


def _record(response):
    if request.endpoint == "metrics.scrape":
        return response
    route = request.url_rule.rule if request.url_rule else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    started = g.get("metrics_started", time.perf_counter())
    REQUEST_SECONDS.labels(method, route, str(response.status_code)).observe(
        time.perf_counter() - started
    )
    counter = OUTCOMES.get((request.method, request.endpoint))
    if counter is not None:
        counter.labels(outcome(response)).inc()
    if response.status_code == 429:
        RATE_LIMIT_REFUSALS.labels(route).inc()
    return response


def _watch_pool(engine):
    """Keep the pool gauges current as connections go out and come back."""
    options = current_app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    limit = options.get("pool_size", 5) + options.get("max_overflow", 10)

    def update(returning):
        pool = engine.pool
        if not hasattr(pool, "checkedout"):  # not a QueuePool
            return
        # A connection coming back is still counted out while its event runs.
        POOL_IN_USE.set(pool.checkedout() - returning)
        POOL_OPEN.set(pool.checkedout() + pool.checkedin())
        POOL_LIMIT.set(limit)

    event.listen(engine, "checkout", lambda *_: update(returning=0))
    event.listen(engine, "checkin", lambda *_: update(returning=1))


@blp.get("/metrics")
def scrape():
    """Answer the metrics in Prometheus' text format, to a holder of METRICS_TOKEN."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return error_response(401, "A valid metrics token is required")
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def init_app(app):
    """Time every request, count outcomes, watch the pool, serve /metrics."""
    app.before_request(_start_timer)
    app.after_request(_record)
    app.register_blueprint(blp)
    with app.app_context():
        _watch_pool(db.engine)
