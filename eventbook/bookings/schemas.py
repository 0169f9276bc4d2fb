from marshmallow import fields
from marshmallow.validate import Length, Regexp

from eventbook.events.schemas import EventSchema
from eventbook.schemas import Schema, identifier


class BookingCreateSchema(Schema):
    event_id = identifier(required=True, metadata={"example": 1})


class BookingSchema(Schema):
    id = fields.Integer(dump_only=True)
    user_id = fields.Integer(dump_only=True)
    event_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    event = fields.Nested(EventSchema, dump_only=True)


class IdempotencyHeaders(Schema):
    key = fields.String(
        data_key="Idempotency-Key",
        validate=[Length(1, 255), Regexp(r"^[\x21-\x7e]+$", error="Must be visible ASCII.")],
        metadata={
            "description": "Makes retries safe: for 24 hours, a request with the same key "
            "and body gets the first response back instead of booking again.",
            "example": "3f1c9a52-book-42",
        },
    )
