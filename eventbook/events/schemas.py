from marshmallow import ValidationError, fields, validates_schema
from marshmallow.validate import URL, Length, OneOf, Range

from eventbook.cursors import Cursor
from eventbook.models import EVENT_STATUSES, utcnow
from eventbook.schemas import PageArgs, Schema, Text, Timestamp, text

MAX_SLOTS = 1_000_000


def in_the_future(value):
    if value <= utcnow():
        raise ValidationError("Must be in the future.")
    return value


def _moment(description):
    return fields.DateTime(dump_only=True, allow_none=True, metadata={"description": description})


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
    available_slots = fields.Integer(
        dump_only=True,
        metadata={
            "description": "What a newcomer can take now: total_slots minus confirmed "
            "bookings, live holds and people waiting; 0 whenever nobody can book.",
            "example": 497,
        },
    )
    status = fields.String(
        dump_only=True,
        metadata={"enum": list(EVENT_STATUSES), "example": "published"},
    )
    booking_opens_at = _moment("Booking opens then; none: it is open once published.")
    booking_closes_at = _moment("Booking closes then; none: at the start of the event.")
    cancellation_deadline = _moment(
        "Confirmed bookings can be cancelled until then; none: until the start."
    )
    ends_at = _moment("When the event ends, if given.")
    cancelled_at = _moment("When the organiser cancelled it.")
    cancellation_reason = fields.String(dump_only=True, allow_none=True)
    held_slots = fields.Integer(
        dump_only=True,
        metadata={"description": "Slots held now (holds and waitlist offers).", "example": 0},
    )
    waitlist_count = fields.Integer(
        dump_only=True, metadata={"description": "People waiting for a slot.", "example": 0}
    )


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
    ends_at = Timestamp(
        allow_none=True, metadata={"description": "After event_date; the calendar's DTEND."}
    )
    total_slots = fields.Integer(
        strict=True,
        required=True,
        validate=Range(1, MAX_SLOTS),
        metadata={
            "description": "On a change, cannot be lower than the confirmed bookings and "
            "live holds; raising it offers the new slots to the waitlist at once.",
            "example": 100,
        },
    )
    image_url = _image_url()
    status = fields.String(
        load_default="published",
        validate=OneOf(("draft", "published")),
        metadata={"description": "A draft is seen by its organiser only, until published."},
    )
    booking_opens_at = Timestamp(
        allow_none=True, metadata={"description": "Not after event_date; before booking_closes_at."}
    )
    booking_closes_at = Timestamp(
        allow_none=True, metadata={"description": "Not after event_date."}
    )
    cancellation_deadline = Timestamp(
        allow_none=True,
        metadata={"description": "Not after event_date; binds confirmed bookings."},
    )


class EventUpdateSchema(EventCreateSchema):
    """Any non-empty subset of the fields of an event; absent fields are left unchanged.

    `status` is not among them: publish and cancel change it.
    """

    class Meta:
        exclude = ("status",)

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.")


class EventCancelSchema(Schema):
    reason = text(
        0, 1000, allow_none=True, metadata={"example": "The venue is closed for repairs."}
    )


class EventListArgs(PageArgs):
    upcoming = fields.Boolean(
        load_default=False, metadata={"description": "Only events that have not started."}
    )
    q = text(1, 200, metadata={"description": "Text to find in the title or location, any case."})
    mine = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Only the caller's own events, in every status (drafts and "
            "cancelled ones included); needs an access token."
        },
    )
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
