from marshmallow import fields

from eventbook.events.schemas import EventSchema
from eventbook.schemas import Schema, identifier

BOOKING_CREATE_EXAMPLE = {"event_id": 1}


class BookingCreateSchema(Schema):
    event_id = identifier(required=True, metadata={"example": 1})


class BookingSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 10})
    user_id = fields.Integer(dump_only=True, metadata={"example": 6})
    event_id = fields.Integer(dump_only=True, metadata={"example": 1})
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:35:00.123456+00:00"}
    )
    event = fields.Nested(EventSchema, dump_only=True)
