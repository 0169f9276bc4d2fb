from marshmallow import ValidationError, fields, validates_schema
from marshmallow.validate import Length, OneOf, Range

from eventbook.schemas import Schema, String, Text, text
from eventbook.webhooks.changes import CHANGE_TYPES, MAX_CURSOR_LENGTH
from eventbook.webhooks.targets import MAX_URL_LENGTH, check_url_syntax


class ChangeSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 1042})
    type = fields.String(dump_only=True, metadata={"example": "booking.confirmed"})
    created_at = fields.DateTime(
        dump_only=True,
        metadata={
            "description": "When the change happened.",
            "example": "2026-11-24T09:35:00.123456+00:00",
        },
    )
    data = fields.Dict(
        dump_only=True,
        metadata={"description": "What changed (the event, the booking, ...), as of the change."},
    )


class ChangePageSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), dump_only=True)
    next_cursor = fields.String(
        dump_only=True,
        metadata={
            "description": "Pass it as `after` to read on; always present, even on an "
            "empty page (it then continues from the same place).",
        },
    )


class ChangeListArgs(Schema):
    after = String(
        validate=Length(1, MAX_CURSOR_LENGTH),
        metadata={"description": "A `next_cursor` from a previous page; absent: from the start."},
    )
    limit = fields.Integer(
        load_default=50,
        validate=Range(1, 100),
        metadata={"description": "Number of changes to return at most (1-100)."},
    )


def _url(value):
    try:
        check_url_syntax(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    return value


def _url_field(**kwargs):
    return Text(
        validate=_url,
        metadata={
            "description": "An http or https URL; its host must resolve to public addresses "
            "(not private, loopback or link-local), checked now and on every delivery. "
            f"At most {MAX_URL_LENGTH} characters.",
            "format": "uri",
            "maxLength": MAX_URL_LENGTH,
            "example": "https://example.com/hooks/eventbook",
        },
        **kwargs,
    )


def _events_field(**kwargs):
    return fields.List(
        fields.String(validate=OneOf(CHANGE_TYPES)),
        validate=[Length(min=1, max=len(CHANGE_TYPES)), _unique],
        metadata={
            "description": "The change types to send; absent: all of them.",
            "example": ["booking.confirmed", "booking.cancelled"],
        },
        **kwargs,
    )


def _unique(values):
    if len(set(values)) != len(values):
        raise ValidationError("Must not repeat a type.")
    return values


WEBHOOK_CREATE_EXAMPLE = {
    "url": "https://example.com/hooks/eventbook",
    "events": ["booking.confirmed", "booking.cancelled"],
    "description": "CRM sync",
}
WEBHOOK_UPDATE_EXAMPLE = {"active": True}


class WebhookCreateSchema(Schema):
    url = _url_field(required=True)
    events = _events_field()
    description = text(0, 500, allow_none=True, metadata={"example": "CRM sync"})


class WebhookUpdateSchema(Schema):
    """Any non-empty subset of the fields; absent fields are left unchanged."""

    url = _url_field()
    events = _events_field()
    description = text(0, 500, allow_none=True)
    active = fields.Boolean(
        metadata={
            "description": "Switch deliveries off or on again. Switching off gives up "
            "the deliveries still waiting."
        }
    )

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.")


class WebhookSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 3})
    url = fields.String(dump_only=True, metadata={"example": "https://example.com/hooks/eventbook"})
    events = fields.Method(
        "_events",
        dump_only=True,
        metadata={"type": "array", "items": {"type": "string", "enum": list(CHANGE_TYPES)}},
    )
    description = fields.String(dump_only=True, allow_none=True)
    active = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "False once the target answered 410 Gone, or its deliveries "
            "failed without a break for more than 24 hours, or its owner switched it off."
        },
    )
    created_at = fields.DateTime(dump_only=True)

    def _events(self, subscription):
        return subscription.events or list(CHANGE_TYPES)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        dump_only=True,
        metadata={
            "description": "The signing secret (Standard Webhooks): shown only in this answer.",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
    )


class DeliveryAttemptSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"description": "Pass it to .../retry."})
    change_id = fields.Integer(dump_only=True, metadata={"description": "Also the webhook-id."})
    type = fields.String(dump_only=True, metadata={"example": "booking.confirmed"})
    attempt = fields.Integer(dump_only=True, metadata={"example": 1})
    state = fields.String(
        dump_only=True,
        metadata={
            "description": "delivered; retrying (another attempt is scheduled at "
            "next_attempt_at); or failed (given up).",
            "enum": ["delivered", "retrying", "failed"],
        },
    )
    status_code = fields.Integer(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)
    duration_ms = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    next_attempt_at = fields.DateTime(dump_only=True, allow_none=True)
