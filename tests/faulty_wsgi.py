"""The application with chosen defects put back, for the control runs of the limit tests.

`EVENTBOOK_TEST_FAULTS` is a comma-separated list of:

- `counted-after`: the failed-login limits are checked before the password
  check and counted after the answer (Flask-Limiter's `deduct_when`), so
  concurrent attempts all pass one check.
- `raising-key`: the failed-login key reads the email from the body as text
  and lets its exceptions out, so a body whose email is not text (or any
  body the boundary would let through and the key cannot read) switches the
  process to its in-memory counters.
- `slow-storage`: Flask-Limiter as it comes (a request caught waiting on a
  storage another thread declared dead fails), with 1 s Redis timeouts and
  redis-py's default retries.
- `no-password-version`: logins made under an older password stay valid.
- `login-pause`: a pause between the password check and the writing of the
  login, standing for the work a real handler does there; it makes the
  race with a password change certain rather than likely.

The tests serve this module to prove that their scenarios catch each defect.
The product never imports it, and no setting enables it.
"""

import hashlib
import os
import time

import flask_limiter
from flask import request

from eventbook import create_app, throttling
from eventbook.auth import operations, tokens
from eventbook.extensions import limiter

LOGIN_PAUSE_SECONDS = 0.3
FAULTS = set(filter(None, os.environ.get("EVENTBOOK_TEST_FAULTS", "").split(",")))
settings = {}


def _failed(response):
    return response.status_code == 401


def _raising_key():
    body = request.get_json(silent=True)
    email = body["email"].lower()
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return f"address:{request.remote_addr}:email:{digest}"


if "counted-after" in FAULTS:
    throttling.limit_failed_logins_per_email.deduct_when = _failed
    throttling.limit_failed_logins_per_address.deduct_when = _failed
    throttling.FAILURES.clear()

if "raising-key" in FAULTS:
    throttling.limit_failed_logins_per_email.key_function = _raising_key

if "slow-storage" in FAULTS:
    limiter.__class__ = flask_limiter.Limiter
    settings["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": 1, "socket_timeout": 1}

if "no-password-version" in FAULTS:
    tokens.is_live = lambda family, user: family.revoked_at is None

if "login-pause" in FAULTS:
    _authenticate = operations.authenticate

    def authenticate_then_pause(email, password):
        user = _authenticate(email, password)
        time.sleep(LOGIN_PAUSE_SECONDS)
        return user

    operations.authenticate = authenticate_then_pause

app = create_app(settings)
