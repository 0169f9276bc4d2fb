from marshmallow import fields

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
