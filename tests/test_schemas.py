"""The base schema's fast dump says exactly what marshmallow's own would."""

import string
from collections import namedtuple
from datetime import UTC, timedelta
from types import SimpleNamespace
from unittest import mock

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields

from eventbook.bookings.schemas import BookingSchema
from eventbook.events.operations import get_event
from eventbook.events.schemas import EventSchema
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow
from eventbook.schemas import Schema


def schema_classes(base=Schema):
    """Every schema of the application (importing `eventbook` imports them all)."""
    for subclass in base.__subclasses__():
        yield subclass
        yield from schema_classes(subclass)


RESPONSE_SCHEMAS = sorted(
    {cls for cls in schema_classes() if any(not f.load_only for f in cls().dump_fields.values())},
    key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)


def marshmallows_own(schema, obj, many=False):
    """Dump through marshmallow's `Schema._serialize`, nested schemas included."""
    with mock.patch.object(Schema, "_serialize", ma.Schema._serialize):
        return schema.dump(obj, many=many)


times = st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.timezones()))
VALUES = {
    fields.Integer: st.one_of(st.integers(-(2**63), 2**63), st.booleans()),
    fields.String: st.one_of(st.text(), st.integers(), st.text(string.digits).map(str.encode)),
    fields.Boolean: st.one_of(st.booleans(), st.sampled_from([0, 1, "true", "off", "maybe"])),
    fields.DateTime: times,
}


def value_of(field, depth):
    """A strategy for what an object may hold under `field`."""
    if isinstance(field, fields.Nested) and depth < 2:
        inner = field.schema
        return st.one_of(
            st.none(),
            objects(type(inner), depth + 1).map(lambda obj: [obj] if field.many else obj),
        )
    for kind, strategy in VALUES.items():
        if isinstance(field, kind):
            return st.one_of(st.none(), strategy)
    return st.none()


def named_tuple(attributes):
    """A named tuple of `attributes`, as `EventRow` is (it has `__getitem__`)."""
    return namedtuple("Row", attributes)(**attributes)


def objects(schema_class, depth=0):
    """Objects, plain or named tuples, with some, all or none of the attributes the schema dumps."""
    attributes = {}
    for name, field in schema_class().dump_fields.items():
        attribute = field.attribute or name
        if "." not in attribute:
            attributes[attribute] = value_of(field, depth)
    kind = st.sampled_from([lambda a: SimpleNamespace(**a), named_tuple])
    return st.tuples(kind, st.fixed_dictionaries({}, optional=attributes)).map(
        lambda made: made[0](made[1])
    )


@pytest.mark.parametrize("schema_class", RESPONSE_SCHEMAS, ids=lambda cls: cls.__qualname__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_dump_equals_marshmallows_own(schema_class, data):
    schema = schema_class()
    items = data.draw(st.lists(objects(schema_class), max_size=3))
    try:
        expected = marshmallows_own(schema, items, many=True)
    except (TypeError, ValueError, AttributeError) as error:
        with pytest.raises(type(error)):
            schema.dump(items, many=True)
        return
    assert schema.dump(items, many=True) == expected
    if items:
        assert schema.dump(items[0]) == expected[0]


def test_real_rows_dump_the_same_both_ways(app, make_event, make_user):
    event = make_event(description=None, ends_at=utcnow() + timedelta(days=8))
    user = make_user()
    with app.app_context():
        db.session.add(Booking(user_id=user.id, event_id=event.id, status="confirmed"))
        db.session.commit()
        booking = db.session.query(Booking).one()
        event_row = get_event(event.id)
        event = db.session.get(Event, event.id)
        objs = ((EventSchema(), event), (EventSchema(), event_row), (BookingSchema(), booking))
        for schema, obj in objs:
            fast = schema.dump(obj)
            assert fast == marshmallows_own(schema, obj)
            assert fast["id"] == obj.id
        assert EventSchema().dump(event_row) == EventSchema().dump(event)


def test_response_schemas_are_found():
    names = {cls.__name__ for cls in RESPONSE_SCHEMAS}
    assert {"EventSchema", "BookingSchema", "WaitlistEntrySchema", "ErrorSchema"} <= names
