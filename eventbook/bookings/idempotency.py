"""`Idempotency-Key`: a retried request gets the first response instead of a second booking.

A key belongs to one user for 24 hours. The first request claims it in a
transaction of its own, so that every process sees the claim at once; the
booking and the response it got are then stored together, in one commit.
A retry with the same body replays that response; a retry while the
first request is in flight is told to wait; the same key with another
body is refused. A claim whose request died (a killed worker) is taken
over after `ABANDONED_AFTER`: its transaction rolled back, so nothing
was booked.
"""

import contextlib
import hashlib
import json
import logging
from datetime import timedelta

from flask import jsonify
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from eventbook.errors import DomainError, error_body
from eventbook.extensions import db
from eventbook.models import IdempotencyKey, utcnow

log = logging.getLogger(__name__)

KEY_LIFETIME = timedelta(hours=24)
# Longer than any request may run (gunicorn's timeout is 30 s).
ABANDONED_AFTER = timedelta(seconds=60)
REPLAY_HEADER = "Idempotent-Replayed"


class KeyReused(DomainError):
    message = "This Idempotency-Key was already used with a different request"


class RequestInFlight(DomainError):
    status_code = 409
    message = "A request with this Idempotency-Key is still in progress; retry shortly"
    headers = {"Retry-After": "1"}


def fingerprint(payload):
    """Return a digest of a request body that ignores key order and spacing."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _insert_claim(user_id, key, digest, now):
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    return db.session.scalar(
        insert(IdempotencyKey)
        .values(user_id=user_id, key=key, fingerprint=digest, claimed_at=now)
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.user_id, IdempotencyKey.key])
        .returning(IdempotencyKey)
    )


def _reclaim(record, digest, now):
    """Take over an expired key or an abandoned claim, unless someone else just did."""
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record.id, IdempotencyKey.claimed_at == record.claimed_at)
        .values(fingerprint=digest, status_code=None, response_body=None, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise RequestInFlight()
    return db.session.get(IdempotencyKey, record.id, populate_existing=True)


def claim(user_id, key, payload, now=None):
    """Claim `key` for a request and commit the claim.

    :returns: the key's record; it has a `status_code` if the first request
        already finished, and its response must be replayed.
    :raises KeyReused: the key was used with another body.
    :raises RequestInFlight: the first request with the key is still running.
    """
    now = now or utcnow()
    digest = fingerprint(payload)
    record = _insert_claim(user_id, key, digest, now)
    if record is None:
        record = db.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        )
        if record.claimed_at <= now - KEY_LIFETIME:
            record = _reclaim(record, digest, now)
        elif record.fingerprint != digest:
            raise KeyReused()
        elif record.status_code is None:
            if record.claimed_at > now - ABANDONED_AFTER:
                raise RequestInFlight()
            record = _reclaim(record, digest, now)
    db.session.commit()
    return record


def _record_response(record_id, status_code, body):
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(status_code=status_code, response_body=body)
        .execution_options(synchronize_session=False)
    )


def _release(record_id):
    """Drop an unfinished claim so that a retry runs the request afresh."""
    try:
        db.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == record_id, IdempotencyKey.status_code.is_(None)
            )
        )
        db.session.commit()
    except SQLAlchemyError:
        # The database is failing; the claim will be taken over once abandoned.
        log.warning("Could not release Idempotency-Key claim %s", record_id)
        db.session.rollback()


class Attempt:
    """One request under an `Idempotency-Key`."""

    def __init__(self, record):
        self.record = record

    @property
    def is_replay(self):
        """Whether an earlier request with the key already got its response."""
        return self.record.status_code is not None

    def replayed_response(self):
        """Return the response of the earlier request, marked as replayed."""
        response = jsonify(self.record.response_body)
        response.status_code = self.record.status_code
        response.headers[REPLAY_HEADER] = "true"
        return response

    def succeed(self, status_code, body):
        """Store the response with the work; the caller commits both at once."""
        _record_response(self.record.id, status_code, body)


@contextlib.contextmanager
def attempt(user_id, key, payload):
    """Run a request at most once per `key`; see the module documentation.

    A domain error is the request's answer: it is stored and replayed like a
    success. Any other failure releases the key for a retry.
    """
    current = Attempt(claim(user_id, key, payload))
    if current.is_replay:
        yield current
        return
    try:
        yield current
    except DomainError as error:
        db.session.rollback()
        body = error_body(error.status_code, error.message)
        _record_response(current.record.id, error.status_code, body)
        db.session.commit()
        raise
    except BaseException:
        db.session.rollback()
        _release(current.record.id)
        raise


def prune_expired(now=None, dry_run=False):
    """Delete the keys older than `KEY_LIFETIME`; return how many."""
    expired = IdempotencyKey.claimed_at <= (now or utcnow()) - KEY_LIFETIME
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(IdempotencyKey).where(expired))
    return db.session.execute(
        delete(IdempotencyKey).where(expired).execution_options(synchronize_session=False)
    ).rowcount


def run_once(user_id, key, payload, work, status_code, schema):
    """Run a request's `work` and commit it, at most once per `Idempotency-Key`.

    :param key: the request's key, or None to simply run and commit.
    :param payload: what identifies the request (its body, or its path):
        a retry with another payload is refused.
    :param work: a callable doing the request's work; its result is the answer.
    :param status_code: the status of a successful answer, stored for replays.
    :param schema: the marshmallow schema that writes the answer.
    :returns: the result of `work`, or the earlier answer as a response.
    :raises KeyReused, RequestInFlight: see `attempt`.
    """
    if key is None:
        result = work()
        db.session.commit()
        return result
    with attempt(user_id, key, payload) as current:
        if current.is_replay:
            return current.replayed_response()
        result = work()
        current.succeed(status_code, schema.dump(result))
        db.session.commit()
        return result
