from marshmallow import fields

from eventbook.models import BOOKING_STATUSES
from eventbook.schemas import Schema


class AttendeeUserSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 6})
    name = fields.String(dump_only=True, metadata={"example": "Ada Lovelace"})
    email = fields.String(dump_only=True, metadata={"example": "ada@example.com"})


class AttendeeSchema(Schema):
    booking_id = fields.Integer(dump_only=True, attribute="id", metadata={"example": 10})
    status = fields.String(
        dump_only=True,
        attribute="current_status",
        metadata={"enum": list(BOOKING_STATUSES), "example": "confirmed"},
    )
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:35:00.123456+00:00"}
    )
    confirmed_at = fields.DateTime(dump_only=True, allow_none=True)
    cancelled_at = fields.DateTime(dump_only=True, allow_none=True)
    checked_in_at = fields.DateTime(dump_only=True, allow_none=True)
    user = fields.Nested(AttendeeUserSchema, dump_only=True)


class StatsSchema(Schema):
    total_slots = fields.Integer(dump_only=True, metadata={"example": 100})
    confirmed = fields.Integer(
        dump_only=True,
        metadata={"description": "Confirmed bookings, checked-in ones included.", "example": 41},
    )
    held = fields.Integer(
        dump_only=True,
        metadata={"description": "Live holds, waitlist offers included.", "example": 2},
    )
    available = fields.Integer(
        dump_only=True,
        metadata={
            "description": "What a newcomer can take now, as the event's `available_slots`: "
            "0 whenever nobody can book.",
            "example": 57,
        },
    )
    cancelled = fields.Integer(dump_only=True, metadata={"example": 3})
    event_cancelled = fields.Integer(dump_only=True, metadata={"example": 0})
    expired = fields.Integer(
        dump_only=True,
        metadata={"description": "Holds past their expiry, processed or not.", "example": 1},
    )
    checked_in = fields.Integer(
        dump_only=True,
        metadata={"description": "Confirmed bookings checked in at the door.", "example": 12},
    )
    waiting = fields.Integer(
        dump_only=True, metadata={"description": "People on the waitlist.", "example": 0}
    )
    offered = fields.Integer(
        dump_only=True,
        metadata={"description": "Waitlist offers whose hold is live.", "example": 0},
    )
