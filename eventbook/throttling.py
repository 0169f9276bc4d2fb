"""Every rate limit, what it is counted against, and which requests count.

Each limit is a named decorator any view can apply; the README's table lists
them. A limit is counted before the work it guards, atomically in the
storage, so concurrent requests cannot all pass one check. The limits on
failures (`limit_failed_logins`, `limit_failed_password_changes`) count
every attempt the same way and give the hit back once the answer shows that
it was not a failure: at any moment the window holds every failure plus the
attempts still running, so it never lets more failures through than it
allows.

The client address is `request.remote_addr`: the peer of the connection, or,
only when `TRUSTED_PROXIES` is set, the address those proxies report in
`X-Forwarded-For` (werkzeug's ProxyFix). A client cannot pick its own key.

No key function raises: Flask-Limiter takes any exception there for a storage
failure and switches the process to in-memory counters.
"""

import functools
import hashlib
import logging

from flask import current_app, request
from flask_jwt_extended import get_jwt_identity
from limits.storage import MemoryStorage, RedisStorage

from eventbook.auth.normalization import normalize_email
from eventbook.extensions import limiter

log = logging.getLogger(__name__)

FAILED_LOGINS = "Too many failed login attempts; try again later"
LOGIN_ATTEMPTS = "Too many login attempts for this account; try again later"
FAILED_PASSWORD_CHANGES = "Too many failed password changes; try again later"
# The key of requests whose key could not be read (a body that is not JSON,
# too deep or too large): they are counted together, per client address.
UNREADABLE = "unreadable"


def setting(name):
    """Return a limit provider that reads the limit from setting `name` per request."""

    def limit():
        return current_app.config[name]

    limit.__name__ = name.lower()
    return limit


def key_function(function):
    """Make `function` a key function that never raises.

    Whatever goes wrong reading the request, the request is counted under
    the client address and `UNREADABLE` instead.
    """

    @functools.wraps(function)
    def key():
        try:
            return function()
        except Exception as error:  # any failure here must not look like a storage failure
            log.info("Rate limit key unreadable (%s); counting per address", type(error).__name__)
            return f"{_address()}:{UNREADABLE}"

    return key


def _address():
    return f"address:{request.remote_addr or '-'}"


def _email_digest():
    """Return a digest of the email a login names, normalised as the login schema does.

    The rate-limit storage holds no email addresses, only these digests.
    """
    # Flask caches the parsed body, so the view reads the same value.
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        raise ValueError("no email in the body")
    normalized = normalize_email(email, strict=False)
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@key_function
def client_address():
    """Count per client address."""
    return _address()


@key_function
def client_address_and_email():
    """Count per client address and the email a login names."""
    return f"{_address()}:email:{_email_digest()}"


@key_function
def login_email():
    """Count per email a login names, whatever address the attempts come from."""
    return f"email:{_email_digest()}"


@key_function
def caller():
    """Count per logged-in user, whatever address the requests come from."""
    return f"user:{get_jwt_identity()}"


# What answer makes a counted attempt a failure, by the scope of its limit.
FAILURES = {}


def failures_limit(name, scope, key_func, message, is_failure):
    """Return a shared limit of `scope` that keeps only the attempts `is_failure` calls failures."""
    FAILURES[scope] = is_failure
    return limiter.shared_limit(setting(name), scope, key_func=key_func, error_message=message)


def _login_failed(response):
    return response.status_code == 401


def _password_change_refused(response):
    return response.status_code == 400


limit_registration = limiter.shared_limit(
    setting("REGISTER_RATE_LIMIT"), "register", key_func=client_address
)
limit_refresh = limiter.shared_limit(
    setting("REFRESH_RATE_LIMIT"), "refresh", key_func=client_address
)
limit_login_attempts = limiter.shared_limit(
    setting("LOGIN_ACCOUNT_RATE_LIMIT"),
    "login-account",
    key_func=login_email,
    error_message=LOGIN_ATTEMPTS,
)
limit_failed_logins_per_email = failures_limit(
    "LOGIN_RATE_LIMIT", "login-failed", client_address_and_email, FAILED_LOGINS, _login_failed
)
limit_failed_logins_per_address = failures_limit(
    "LOGIN_ADDRESS_RATE_LIMIT",
    "login-failed-address",
    client_address,
    FAILED_LOGINS,
    _login_failed,
)
limit_failed_password_changes = failures_limit(
    "LOGIN_RATE_LIMIT",
    "password-change-failed",
    caller,
    FAILED_PASSWORD_CHANGES,
    _password_change_refused,
)
#: Bookings and waitlist joins: one budget per user (`BOOKING_RATE_LIMIT`).
limit_bookings = limiter.shared_limit(setting("BOOKING_RATE_LIMIT"), "booking", key_func=caller)
limit_event_creation = limiter.shared_limit(
    setting("EVENT_CREATE_RATE_LIMIT"), "event-create", key_func=caller
)


def limit_logins(view):
    """Apply every login limit: attempts per email, failures per address and email, per address."""
    for limit in (
        limit_failed_logins_per_address,
        limit_failed_logins_per_email,
        limit_login_attempts,
    ):
        view = limit(view)
    return view


def _scope(request_limit):
    return request_limit.request_args[-1]


def _take_back(request_limit):
    """Remove one hit from the moving window of `request_limit`.

    The moving window is a list of hit times, newest first, in both storages;
    removing the newest keeps the count exact (any one hit counts the same).
    """
    storage = limiter.limiter.storage
    if isinstance(storage, RedisStorage):
        storage.get_connection().lpop(storage.prefixed_key(request_limit.key))
    elif isinstance(storage, MemoryStorage):
        with storage.locks[request_limit.key]:
            hits = storage.events.get(request_limit.key)
            if hits:
                hits.pop(0)


def settle_failures(response):
    """Give back the hits of failure limits whose attempt turned out not to fail."""
    for request_limit in limiter.current_limits:
        is_failure = FAILURES.get(_scope(request_limit))
        if is_failure is None or request_limit.breached or is_failure(response):
            continue
        try:
            _take_back(request_limit)
        except Exception as error:  # storage trouble: the hit stays, erring on the safe side
            log.warning("Could not give back a rate limit hit: %s", type(error).__name__)
    return response


def choose_header_limit(response):
    """Make the rate-limit headers describe the limit that will refuse the client first.

    That is the one with the fewest requests remaining (of those tied, the one
    that frees up last); on a 429, the limit that refused. The windows are
    read here, so adding the headers costs no further storage call; if the
    storage fails, the headers are left out.
    """
    evaluated = limiter.current_limits
    if not evaluated:
        return response
    try:
        if response.status_code == 429:
            first = limiter.current_limit
            _ = first.window  # read now, as the headers will
        else:
            first = min(evaluated, key=lambda limit: (limit.remaining, -limit.reset_at))
    except Exception as error:  # storage trouble: no headers rather than a failed request
        log.warning("Rate limit headers left out: %s", type(error).__name__)
        first = None
    limiter.context.view_rate_limit = first
    return response


def register_throttling(app):
    """Register after the limiter, so these hooks run before it adds its headers."""
    app.after_request(choose_header_limit)
    app.after_request(settle_failures)
