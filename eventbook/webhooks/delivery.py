"""Delivery workers: claim a due delivery, send it, record the attempt.

A worker claims one delivery at a time with a lease: one conditional UPDATE
sets `leased_until` and a fresh `lease_token` on a due delivery whose lease
is free (PostgreSQL also skips rows another worker is claiming, with
`FOR UPDATE SKIP LOCKED`). The claim commits before the HTTP call, so no
transaction stays open while the target answers, and no two workers hold
one delivery at once. A worker that dies mid-delivery leaves its lease to
run out; another worker then attempts the delivery again, with the same
`webhook-id`: delivery is at least once.
"""

import http.client
import logging
import random
import threading
import time
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks import signing, targets
from eventbook.webhooks.models import (
    Change,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from eventbook.webhooks.operations import switch_off

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_WAIT_SECONDS = 3600
JITTER = 0.2
# A delivery is retried for this long; a subscription whose deliveries fail
# without a break for longer is switched off.
RETRY_WINDOW = timedelta(hours=24)
USER_AGENT = "eventbook-webhooks/1"


def retry_wait(attempt, base_seconds, rand=random.random):
    """Return the seconds to wait after failed attempt number `attempt` (1-based).

    `base_seconds` x 2^(attempt-1), +/- 20 % jitter, at most one hour.
    """
    exponent = min(attempt - 1, 32)  # past 2^32 the cap applies anyway
    jitter = 1 + JITTER * (2 * rand() - 1)
    return min(base_seconds * 2**exponent * jitter, MAX_WAIT_SECONDS)


def claim_delivery(now=None):
    """Lease one due delivery of an active subscription; commit; return (id, token) or None."""
    now = now or utcnow()
    free = or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now)
    due = [WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now, free]
    candidate = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(*due, WebhookSubscription.active)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
        .scalar_subquery()
    )
    token = uuid.uuid4().hex
    lease = timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    claimed = db.session.scalar(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == candidate, *due)  # checked again on the row itself
        .values(leased_until=now + lease, lease_token=token, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id)
    )
    db.session.commit()
    return (claimed, token) if claimed is not None else None


def _load(delivery_id):
    delivery, subscription, change = db.session.execute(
        select(WebhookDelivery, WebhookSubscription, Change)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(Change, Change.id == WebhookDelivery.change_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    db.session.commit()  # nothing stays open during the HTTP call
    return delivery, subscription, change


def send(subscription, change):
    """Send a change to a subscription's URL once; return (status_code, error)."""
    try:
        secret = signing.decrypt_secret(subscription.secret_encrypted)
    except signing.SecretUnreadable as error:
        return None, str(error)
    body = signing.payload(change)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.signed_headers(secret, change.id, body, utcnow()),
    }
    try:
        status = targets.post(
            subscription.url,
            body.encode(),
            headers,
            allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
            timeout=TIMEOUT_SECONDS,
        )
    except targets.TargetRefused as error:
        return None, f"refused: {error}"
    except (OSError, ValueError, http.client.HTTPException) as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= status < 300:
        return status, None
    if 300 <= status < 400:
        return status, "redirects are not followed"
    return status, None


def deliver(delivery_id, token):
    """Attempt a claimed delivery once and record the outcome; commit."""
    delivery, subscription, change = _load(delivery_id)
    started = time.monotonic()
    status, error = send(subscription, change)
    duration_ms = round((time.monotonic() - started) * 1000)
    record_attempt(delivery, subscription, change, token, status, error, duration_ms)


def record_attempt(delivery, subscription, change, token, status, error, duration_ms):
    """Record one attempt and schedule what follows it; commit."""
    now = utcnow()
    config = current_app.config
    delivered = status is not None and 200 <= status < 300
    next_attempt_at = None
    if delivered:
        state = "delivered"
        db.session.execute(
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id == subscription.id,
                WebhookSubscription.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )
    else:
        failing_since = db.session.scalar(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == subscription.id)
            .values(failing_since=func.coalesce(WebhookSubscription.failing_since, now))
            .returning(WebhookSubscription.failing_since)
        )
        if status == 410:
            switch_off(subscription.id, "the target answered 410 Gone")
            state = "failed"
        elif now - failing_since > RETRY_WINDOW:
            switch_off(subscription.id, "deliveries failed without a break for over 24 hours")
            state = "failed"
        elif now - delivery.created_at >= RETRY_WINDOW:
            state = "failed"
        else:
            state = "retrying"
            wait = retry_wait(delivery.attempts, config["WEBHOOK_RETRY_BASE_SECONDS"])
            next_attempt_at = now + timedelta(seconds=wait)
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_token == token)
        .values(
            state="pending" if state == "retrying" else state,
            next_attempt_at=next_attempt_at,
            leased_until=None,
            lease_token=None,
        )
    )
    db.session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            subscription_id=subscription.id,
            change_id=change.id,
            type=change.type,
            attempt=delivery.attempts,
            state=state,
            status_code=status,
            error=error,
            duration_ms=duration_ms,
            created_at=now,
            next_attempt_at=next_attempt_at,
        )
    )
    db.session.commit()


def deliver_due(limit=None):
    """Deliver what is due now, one after another; return the number of attempts."""
    count = 0
    while limit is None or count < limit:
        claimed = claim_delivery()
        if claimed is None:
            return count
        deliver(*claimed)
        count += 1
    return count


def run_worker(app, threads, poll_seconds, stop):
    """Deliver with `threads` threads until `stop` (a threading.Event) is set.

    Each thread claims one delivery at a time; an idle thread looks again
    after `poll_seconds`. A failure of the database is logged and retried.
    """

    def loop():
        with app.app_context():
            while not stop.is_set():
                try:
                    claimed = claim_delivery()
                    if claimed is None:
                        stop.wait(poll_seconds)
                    else:
                        deliver(*claimed)
                except Exception:
                    log.exception("Webhook delivery failed; trying again")
                    db.session.rollback()
                    stop.wait(poll_seconds)
                finally:
                    db.session.remove()

    workers = [threading.Thread(target=loop, name=f"deliver-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
