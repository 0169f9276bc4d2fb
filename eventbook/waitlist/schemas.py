from marshmallow import fields

from eventbook.bookings.schemas import BookingSchema
from eventbook.models import WAITLIST_STATUSES
from eventbook.schemas import Schema


class WaitlistEntrySchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 4})
    event_id = fields.Integer(dump_only=True, metadata={"example": 1})
    user_id = fields.Integer(dump_only=True, metadata={"example": 6})
    status = fields.String(
        dump_only=True,
        metadata={
            "description": "`waiting` for a slot, `offered` one (see `offer`), then "
            "`accepted`, `expired`, `left` or `closed`.",
            "enum": list(WAITLIST_STATUSES),
            "example": "waiting",
        },
    )
    position = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "1-based place among the people waiting; none once offered."},
    )
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:35:00.123456+00:00"}
    )
    offer = fields.Nested(
        BookingSchema,
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The slot held for you once offered: confirm it with "
            "POST /bookings/{id}/confirm before its expires_at."
        },
    )
