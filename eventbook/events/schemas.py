from marshmallow import ValidationError, fields, validates_schema
from marshmallow.validate import URL, Length, Range

from eventbook.cursors import Cursor
from eventbook.models import utcnow
from eventbook.schemas import PageArgs, Schema, Text, Timestamp, text

MAX_SLOTS = 1_000_000


def in_the_future(value):
    if value <= utcnow():
        raise ValidationError("Must be in the future.")
    return value


def _image_url(**kwargs):
    return Text(
        allow_none=True,
        validate=[Length(max=500), URL(schemes={"http", "https"})],
        metadata={
            "description": "An http or https URL. It is stored as given, never fetched.",
            "format": "uri",
            "example": "https://picsum.photos/seed/conference/800/600",
        },
        **kwargs,
    )


EVENT_CREATE_EXAMPLE = {
    "title": "Flask meetup",
    "description": "Lightning talks and pizza.",
    "location": "Room 42",
    "event_date": "2030-05-01T18:00:00+00:00",
    "total_slots": 30,
    "image_url": "https://picsum.photos/seed/meetup/800/600",
}
EVENT_UPDATE_EXAMPLE = {"total_slots": 40}


class EventSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 1})
    title = fields.String(dump_only=True, metadata={"example": "Tech Conference 2024"})
    description = fields.String(
        dump_only=True, allow_none=True, metadata={"example": "Talks on AI, cloud and the web."}
    )
    location = fields.String(
        dump_only=True, metadata={"example": "Convention Center, San Francisco"}
    )
    event_date = fields.DateTime(dump_only=True, metadata={"example": "2030-05-01T18:00:00+00:00"})
    total_slots = fields.Integer(dump_only=True, metadata={"example": 500})
    image_url = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"example": "https://picsum.photos/seed/conference/800/600"},
    )
    organizer_id = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The user who organises it; none for demo events."},
    )
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:30:00.123456+00:00"}
    )
    booking_count = fields.Integer(dump_only=True, metadata={"example": 3})
    available_slots = fields.Integer(dump_only=True, metadata={"example": 497})

    def dump(self, obj, *, many=None):
        # Lists of events are the busiest responses: the fields above are
        # written out directly, several times faster than field by field.
        # tests/test_serialization.py holds this equal to marshmallow's dump.
        if self.many if many is None else many:
            return [event_json(event) for event in obj]
        return event_json(obj)


def event_json(event):
    """Return the EventSchema representation of an event."""
    return {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "location": event.location,
        "event_date": event.event_date.isoformat(),
        "total_slots": event.total_slots,
        "image_url": event.image_url,
        "organizer_id": event.organizer_id,
        "created_at": event.created_at.isoformat(),
        "booking_count": event.booked_count,
        "available_slots": event.total_slots - event.booked_count,
    }


class EventCreateSchema(Schema):
    title = text(1, 200, required=True, metadata={"example": "Tech Conference 2027"})
    description = text(0, 5000, allow_none=True, metadata={"example": "Talks and workshops."})
    location = text(1, 255, required=True, metadata={"example": "Convention Center"})
    event_date = Timestamp(
        required=True,
        validate=in_the_future,
        metadata={
            "description": "Must be in the future; without an offset it is read as UTC.",
            "example": "2027-07-15T10:00:00+00:00",
        },
    )
    total_slots = fields.Integer(
        strict=True, required=True, validate=Range(1, MAX_SLOTS), metadata={"example": 100}
    )
    image_url = _image_url()


class EventUpdateSchema(Schema):
    """Any non-empty subset of the fields of an event; absent fields are left unchanged."""

    title = text(1, 200)
    description = text(0, 5000, allow_none=True)
    location = text(1, 255)
    event_date = Timestamp(validate=in_the_future)
    total_slots = fields.Integer(
        strict=True,
        validate=Range(1, MAX_SLOTS),
        metadata={"description": "Cannot be lower than the number of bookings."},
    )
    image_url = _image_url()

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.")


class EventListArgs(PageArgs):
    upcoming = fields.Boolean(
        load_default=False, metadata={"description": "Only events that have not started."}
    )
    q = text(1, 200, metadata={"description": "Text to find in the title or location, any case."})
    after = Cursor(
        metadata={
            "description": "Start after the event this cursor names: the `X-Next-Cursor` of "
            "the previous page. Unlike `skip`, it neither skips nor repeats events when "
            "events are added meanwhile. Not together with `skip`.",
            "example": "AAbDk6edqAAAAAAq",
        }
    )

    @validates_schema(pass_original=True)
    def not_both_skip_and_after(self, data, original_data, **kwargs):
        if "after" in data and "skip" in original_data:
            raise ValidationError("Give either skip or after, not both.", "after")


class TopBookedArgs(Schema):
    limit = fields.Integer(load_default=3, validate=Range(1, 50))
    upcoming = fields.Boolean(
        load_default=False, metadata={"description": "Only events that have not started."}
    )
