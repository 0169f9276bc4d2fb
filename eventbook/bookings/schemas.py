from marshmallow import fields
from marshmallow.validate import Length, Regexp

from eventbook.events.schemas import EventSchema, event_json
from eventbook.schemas import Schema, String, identifier

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

    def dump(self, obj, *, many=None):
        # Written out directly, as EventSchema does; tests/test_serialization.py
        # holds this equal to marshmallow's dump.
        if self.many if many is None else many:
            return [booking_json(booking) for booking in obj]
        return booking_json(obj)


def booking_json(booking):
    """Return the BookingSchema representation of a booking with its event."""
    return {
        "id": booking.id,
        "user_id": booking.user_id,
        "event_id": booking.event_id,
        "created_at": booking.created_at.isoformat(),
        "event": event_json(booking.event),
    }


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
