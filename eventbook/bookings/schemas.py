from marshmallow import fields
from marshmallow.validate import Length, Regexp

from eventbook.events.schemas import EventSchema
from eventbook.models import BOOKING_STATUSES, LIVE_BOOKING_STATUSES
from eventbook.schemas import PageArgs, Schema, StatusList, String, identifier

BOOKING_CREATE_EXAMPLE = {"event_id": 1}


class BookingCreateSchema(Schema):
    event_id = identifier(required=True, metadata={"example": 1})
    hold = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Hold the slot until `expires_at` (HOLD_TTL_SECONDS, 10 minutes "
            "by default) instead of confirming it; confirm with POST /bookings/{id}/confirm."
        },
    )


def _moment(description, example=None):
    metadata = {"description": description}
    if example:
        metadata["example"] = example
    return fields.DateTime(dump_only=True, allow_none=True, metadata=metadata)


class BookingSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 10})
    user_id = fields.Integer(dump_only=True, metadata={"example": 6})
    event_id = fields.Integer(dump_only=True, metadata={"example": 1})
    status = fields.String(
        dump_only=True,
        attribute="current_status",
        metadata={
            "description": "`held` and `confirmed` bookings are live; a hold past its "
            "`expires_at` is `expired`.",
            "enum": list(BOOKING_STATUSES),
            "example": "confirmed",
        },
    )
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:35:00.123456+00:00"}
    )
    expires_at = _moment("When a hold stops taking a slot unless confirmed.")
    confirmed_at = _moment("When it was confirmed.", "2026-11-24T09:35:00.123456+00:00")
    cancelled_at = _moment("When it was cancelled, by its owner or with its event.")
    checked_in_at = _moment("When its attendee was checked in at the door.")
    event = fields.Nested(EventSchema, dump_only=True)


class BookingListArgs(PageArgs):
    status = StatusList(
        BOOKING_STATUSES,
        load_default=LIVE_BOOKING_STATUSES,
        metadata={
            "description": "Comma-separated statuses to list (default `held,confirmed`), or `all`.",
            "example": "held,confirmed",
        },
    )


class IdempotencyHeaders(Schema):
    key = String(
        data_key="Idempotency-Key",
        validate=[Length(1, 255), Regexp(r"^[\x21-\x7e]+$", error="Must be visible ASCII.")],
        metadata={
            "description": "Makes retries safe: for 24 hours, a request with the same key "
            "and body gets the first response back instead of booking again.",
            "example": "3f1c9a52-book-42",
        },
    )
