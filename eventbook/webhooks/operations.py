"""Webhook subscriptions and their deliveries; these flush, the caller commits."""

from flask import current_app
from sqlalchemy import select, update

from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks import signing, targets
from eventbook.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription


class SubscriptionNotFound(DomainError):
    status_code = 404
    message = "Webhook not found"


class DeliveryNotFound(DomainError):
    status_code = 404
    message = "Delivery not found"


class TargetNotAllowed(DomainError):
    message = "The webhook URL must resolve to public addresses only"

    def __init__(self, reason):
        super().__init__(f"{self.message}: {reason}")


def _check_target(url):
    """:raises TargetNotAllowed:"""
    try:
        targets.check_target(url, current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"])
    except targets.TargetRefused as refused:
        raise TargetNotAllowed(str(refused)) from None


def _event_types(events):
    return " ".join(events) if events else None


def create_subscription(user_id, url, events=None, description=None):
    """Subscribe `user_id` to the changes of their events; return it and its secret.

    The secret is returned only here; the database keeps it encrypted.

    :raises TargetNotAllowed: the URL's host resolves to a non-public address.
    """
    _check_target(url)
    secret = signing.new_secret()
    subscription = WebhookSubscription(
        user_id=user_id,
        url=url,
        event_types=_event_types(events),
        description=description,
        secret_encrypted=signing.encrypt_secret(secret),
        active=True,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, secret


def list_subscriptions(user_id):
    return db.session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.user_id == user_id)
        .order_by(WebhookSubscription.id)
    ).all()


def get_subscription(user_id, subscription_id):
    """:raises SubscriptionNotFound: no such subscription, or another user's."""
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.user_id != user_id:
        raise SubscriptionNotFound()
    return subscription


def update_subscription(subscription, changes):
    """Apply `changes` (url, events, description, active).

    Switching a subscription on clears its run of failures; switching it off
    ends its waiting deliveries.

    :raises TargetNotAllowed:
    """
    if "url" in changes:
        _check_target(changes["url"])
        subscription.url = changes["url"]
    if "events" in changes:
        subscription.event_types = _event_types(changes["events"])
    if "description" in changes:
        subscription.description = changes["description"]
    if changes.get("active") is True and not subscription.active:
        subscription.active = True
        subscription.failing_since = None
        subscription.disabled_reason = None
    elif changes.get("active") is False and subscription.active:
        switch_off(subscription.id, "switched off by its owner")
        db.session.refresh(subscription)
    db.session.flush()
    return subscription


def switch_off(subscription_id, reason):
    """Switch a subscription off and give up its waiting deliveries."""
    db.session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(active=False, disabled_reason=reason)
    )
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.state == "pending",
        )
        .values(state="failed", next_attempt_at=None)
    )


def delete_subscription(subscription):
    """Delete a subscription; its deliveries and their attempts go with it."""
    db.session.delete(subscription)
    db.session.flush()


def list_attempts(subscription, skip, limit):
    """Return a page of a subscription's delivery attempts, newest first."""
    return db.session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.subscription_id == subscription.id)
        .order_by(DeliveryAttempt.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()


def retry_delivery(subscription, attempt_id):
    """Send the change of an attempt again, as soon as a worker is free.

    The change goes out with the same `webhook-id`. A delivery in flight
    is not attempted twice at once: the retry joins it.

    :raises DeliveryNotFound: no such attempt for this subscription.
    """
    delivery_id = db.session.scalar(
        select(DeliveryAttempt.delivery_id).where(
            DeliveryAttempt.id == attempt_id,
            DeliveryAttempt.subscription_id == subscription.id,
        )
    )
    if delivery_id is None:
        raise DeliveryNotFound()
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(state="pending", next_attempt_at=utcnow())
    )
