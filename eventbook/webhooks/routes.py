from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.extensions import db
from eventbook.schemas import PageArgs
from eventbook.webhooks import changes, operations
from eventbook.webhooks.schemas import (
    WEBHOOK_CREATE_EXAMPLE,
    WEBHOOK_UPDATE_EXAMPLE,
    ChangeListArgs,
    ChangePageSchema,
    DeliveryAttemptSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)

changes_blp = Blueprint(
    "changes", __name__, url_prefix="/changes", description="The changes of your events."
)


@changes_blp.route("")
class Changes(MethodView):
    @changes_blp.login_required
    @changes_blp.arguments(ChangeListArgs, location="query")
    @changes_blp.response(200, ChangePageSchema)
    @changes_blp.documents(changes.InvalidCursor)
    @changes_blp.doc(operationId="listChanges")
    def get(self, args):
        """Read the changes of the events you organise, oldest first.

        Follow `next_cursor` (pass it as `after`) to read on: every change
        appears exactly once, even when transactions commit out of order,
        and the changes of one event appear in the order they happened.
        Changes are kept for 7 days.
        """
        page, cursor = changes.list_changes(current_user.id, args.get("after"), args["limit"])
        return {"changes": page, "next_cursor": cursor}


webhooks_blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="Signed notifications of the changes of your events, sent to your URL.",
)


@webhooks_blp.route("")
class Webhooks(MethodView):
    @webhooks_blp.login_required
    @webhooks_blp.response(200, WebhookSchema(many=True))
    @webhooks_blp.doc(operationId="listWebhooks")
    def get(self):
        """List your webhook subscriptions (without their secrets)."""
        return operations.list_subscriptions(current_user.id)

    @webhooks_blp.login_required
    @webhooks_blp.arguments(WebhookCreateSchema, example=WEBHOOK_CREATE_EXAMPLE)
    @webhooks_blp.response(201, WebhookCreatedSchema)
    @webhooks_blp.documents(operations.TargetNotAllowed, 413, 415)
    @webhooks_blp.doc(operationId="createWebhook")
    def post(self, data):
        """Subscribe a URL to the changes of the events you organise.

        Each change is POSTed as `{type, timestamp, data}` with the Standard
        Webhooks headers `webhook-id` (the change's id, the same on every
        retry), `webhook-timestamp` and `webhook-signature`. The `secret`
        that verifies the signatures is shown only in this answer.
        """
        subscription, secret = operations.create_subscription(current_user.id, **data)
        db.session.commit()
        subscription.secret = secret  # shown in this answer only, never stored as is
        return subscription


@webhooks_blp.route("/<id:subscription_id>")
class WebhookById(MethodView):
    @webhooks_blp.login_required
    @webhooks_blp.response(200, WebhookSchema)
    @webhooks_blp.documents(operations.SubscriptionNotFound)
    @webhooks_blp.doc(operationId="getWebhook")
    def get(self, subscription_id):
        """Return one of your webhook subscriptions."""
        return operations.get_subscription(current_user.id, subscription_id)

    @webhooks_blp.login_required
    @webhooks_blp.arguments(WebhookUpdateSchema, example=WEBHOOK_UPDATE_EXAMPLE)
    @webhooks_blp.response(200, WebhookSchema)
    @webhooks_blp.documents(operations.TargetNotAllowed, operations.SubscriptionNotFound, 413, 415)
    @webhooks_blp.doc(operationId="updateWebhook")
    def patch(self, data, subscription_id):
        """Change one of your subscriptions, or switch it off or on again."""
        subscription = operations.get_subscription(current_user.id, subscription_id)
        operations.update_subscription(subscription, data)
        db.session.commit()
        return subscription

    @webhooks_blp.login_required
    @webhooks_blp.response(204)
    @webhooks_blp.documents(operations.SubscriptionNotFound)
    @webhooks_blp.doc(operationId="deleteWebhook")
    def delete(self, subscription_id):
        """Delete one of your subscriptions, with its deliveries."""
        operations.delete_subscription(
            operations.get_subscription(current_user.id, subscription_id)
        )
        db.session.commit()


@webhooks_blp.route("/<id:subscription_id>/deliveries")
class WebhookDeliveries(MethodView):
    @webhooks_blp.login_required
    @webhooks_blp.arguments(PageArgs, location="query")
    @webhooks_blp.response(200, DeliveryAttemptSchema(many=True))
    @webhooks_blp.documents(operations.SubscriptionNotFound)
    @webhooks_blp.doc(operationId="listWebhookDeliveries")
    def get(self, args, subscription_id):
        """List the delivery attempts of a subscription, newest first: one row per attempt."""
        subscription = operations.get_subscription(current_user.id, subscription_id)
        return operations.list_attempts(subscription, **args)


@webhooks_blp.route("/<id:subscription_id>/deliveries/<id:delivery_id>/retry")
class WebhookDeliveryRetry(MethodView):
    @webhooks_blp.login_required
    @webhooks_blp.response(202)
    @webhooks_blp.documents(operations.DeliveryNotFound, operations.SubscriptionNotFound)
    @webhooks_blp.doc(operationId="retryWebhookDelivery")
    def post(self, subscription_id, delivery_id):
        """Send the change of a delivery again, with the same `webhook-id`.

        `delivery_id` is the `id` of a row of the deliveries list.
        """
        subscription = operations.get_subscription(current_user.id, subscription_id)
        operations.retry_delivery(subscription, delivery_id)
        db.session.commit()
