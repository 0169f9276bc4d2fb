"""The hand-written dumps of events and bookings equal marshmallow's own."""

from datetime import UTC, datetime, timedelta

import marshmallow as ma
import pytest

from eventbook.bookings.schemas import BookingSchema
from eventbook.events.schemas import EventSchema
from eventbook.models import Booking, Event

EVENTS = [
    Event(
        id=1,
        title="Tech Conference",
        description="Talks.",
        location="Hall",
        event_date=datetime(2030, 5, 1, 18, 0, tzinfo=UTC),
        total_slots=500,
        booked_count=3,
        image_url="https://picsum.photos/seed/a/800/600",
        organizer_id=7,
        created_at=datetime(2026, 11, 24, 9, 30, 0, 123456, tzinfo=UTC),
    ),
    Event(
        id=2**31 - 1,
        title="Ünïcode ✓",
        description=None,
        location="",
        event_date=datetime(2027, 1, 1, tzinfo=UTC) + timedelta(microseconds=1),
        total_slots=1,
        booked_count=1,
        image_url=None,
        organizer_id=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    ),
]
BOOKINGS = [
    Booking(
        id=n,
        user_id=6,
        event_id=event.id,
        event=event,
        created_at=datetime(2026, 11, 24, 9, 35, n, tzinfo=UTC),
    )
    for n, event in enumerate(EVENTS, start=1)
]


@pytest.mark.parametrize(
    ("schema_class", "objects"), [(EventSchema, EVENTS), (BookingSchema, BOOKINGS)]
)
def test_the_fast_dump_equals_marshmallows(schema_class, objects):
    one, many = schema_class(), schema_class(many=True)
    for obj in objects:
        expected = ma.Schema.dump(one, obj)
        assert one.dump(obj) == expected
        assert list(one.dump(obj)) == list(expected)  # same field order
    assert many.dump(objects) == ma.Schema.dump(many, objects)
    assert one.dump(objects, many=True) == ma.Schema.dump(one, objects, many=True)


@pytest.mark.parametrize("schema_class", [EventSchema, BookingSchema])
def test_the_fast_dump_writes_every_declared_field(schema_class):
    obj = EVENTS[0] if schema_class is EventSchema else BOOKINGS[0]
    assert set(schema_class().dump(obj)) == set(schema_class().dump_fields)
