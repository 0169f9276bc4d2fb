from marshmallow import fields
from marshmallow.validate import Length, Range

from eventbook.schemas import Schema
from eventbook.webhooks.changes import MAX_CURSOR_LENGTH


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
    after = fields.String(
        validate=Length(1, MAX_CURSOR_LENGTH),
        metadata={"description": "A `next_cursor` from a previous page; absent: from the start."},
    )
    limit = fields.Integer(
        load_default=50,
        validate=Range(1, 100),
        metadata={"description": "Number of changes to return at most (1-100)."},
    )
