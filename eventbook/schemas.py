"""Schema pieces shared by every resource: the error body, fields, pagination."""

from datetime import UTC

import marshmallow as ma
from marshmallow import fields
from marshmallow.validate import Length, Range, Validator

# Ids are PostgreSQL INTEGERs; anything larger can name no row.
MAX_ID = 2**31 - 1
MAX_SKIP = 2**31 - 1


def _fast_converter(field):
    """Return a function doing what `field._serialize` does to a present value, or None.

    Only for fields whose serialization is marshmallow's own, unchanged by a
    subclass: Integer, String, Boolean and DateTime with a named format.
    The function takes the attribute's value and returns its JSON value;
    anything it was not written for goes to marshmallow.
    """
    kind = type(field)
    if kind.serialize is not fields.Field.serialize or kind.get_value is not fields.Field.get_value:
        return None
    serialize = kind._serialize
    if serialize is fields.Number._serialize and field.num_type is int and not field.as_string:
        return lambda value: value if type(value) is int else field._serialize(value, None, None)
    if serialize is fields.String._serialize:
        return lambda value: value if type(value) is str else field._serialize(value, None, None)
    if serialize is fields.Boolean._serialize:
        return lambda value: value if type(value) is bool else field._serialize(value, None, None)
    if serialize is fields.DateTime._serialize:
        formatted = field.SERIALIZATION_FUNCS.get(field.format or field.DEFAULT_FORMAT)
        if formatted is None:
            return None
        return lambda value: None if value is None else formatted(value)
    return None


def _read_by_key(obj):
    """Return True if marshmallow would read `obj`'s fields as `obj[name]`.

    It tries `obj[name]` first on anything with `__getitem__`; on a plain
    tuple's (a named tuple's, as `EventRow`) that always fails and it reads
    the attribute, as the fast path does.
    """
    item = getattr(type(obj), "__getitem__", None)
    return item is not None and item is not tuple.__getitem__


class Schema(ma.Schema):
    """Base schema: unknown input fields are refused; dumping objects takes a fast path.

    Dumping an object (not a mapping; a named tuple is an object here) reads
    each field's attribute once and converts plain values (Integer, String,
    Boolean, DateTime) directly, as marshmallow's own fields would: the
    output is the same, at a fraction of the cost on lists of events and
    bookings. Every other field (Nested, a
    missing attribute, a value of an unexpected type) goes through
    marshmallow's `Field.serialize` unchanged. `tests/test_schemas.py`
    checks the two agree on generated objects of every response schema.
    """

    class Meta:
        unknown = ma.RAISE

    def _serialize(self, obj, *, many=False):
        if many and obj is not None:
            return [self._serialize(item) for item in obj]
        if _read_by_key(obj) or type(self).get_attribute is not ma.Schema.get_attribute:
            return super()._serialize(obj)
        plan = self.__dict__.get("_dump_plan")
        if plan is None:
            plan = self._dump_plan = self._compile_dump_plan()
        result = {}
        for name, key, attribute, convert, field in plan:
            value = getattr(obj, attribute, ma.missing) if convert is not None else ma.missing
            if value is ma.missing:
                value = field.serialize(name, obj, accessor=self.get_attribute)
                if value is ma.missing:
                    continue
            else:
                value = None if value is None else convert(value)
            result[key] = value
        return result

    def _compile_dump_plan(self):
        """Return, per dumped field: name, output key, attribute, fast converter or None, field."""
        plan = []
        for name, field in self.dump_fields.items():
            attribute = field.attribute if field.attribute is not None else name
            convert = _fast_converter(field) if "." not in attribute else None
            key = field.data_key if field.data_key is not None else name
            plan.append((name, key, attribute, convert, field))
        return tuple(plan)


class ByteLength(Validator):
    """Validate the length of a string in UTF-8 bytes."""

    def __init__(self, min_bytes, max_bytes):
        # Not named min/max: apispec would document those as a numeric range.
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes

    def __call__(self, value):
        size = len(value.encode("utf-8", "surrogatepass"))
        if not self.min_bytes <= size <= self.max_bytes:
            raise ma.ValidationError(
                f"Length must be between {self.min_bytes} and {self.max_bytes} bytes in UTF-8."
            )
        return value


def byte_length_doc(min_bytes, max_bytes, metadata=None):
    """Return field metadata documenting a length in UTF-8 bytes.

    No string of more than `max_bytes` characters fits, whatever its characters.
    """
    return {
        "description": f"{min_bytes} to {max_bytes} bytes in UTF-8.",
        "maxLength": max_bytes,
        **(metadata or {}),
    }


def reject_nul(value):
    if "\x00" in value:
        raise ma.ValidationError("Must not contain NUL characters.")
    return value


def reject_unencodable(value):
    """Refuse text that does not encode to UTF-8: an unpaired surrogate (``"\\ud800"``)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ma.ValidationError(
                "Must be valid Unicode text (it holds an unpaired surrogate)."
            ) from None
    return value


class String(fields.String):
    """A string every layer below can hold: UTF-8 encodable, without NUL characters.

    PostgreSQL refuses NUL in text; psycopg2 and bcrypt fail on what UTF-8
    cannot encode.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return reject_nul(reject_unencodable(value))


class Text(String):
    """A `String` with surrounding whitespace removed."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text(min_length, max_length, **kwargs):
    """Return a `Text` field holding between `min_length` and `max_length` characters."""
    return Text(validate=Length(min_length, max_length), **kwargs)


def identifier(**kwargs):
    return fields.Integer(strict=True, validate=Range(1, MAX_ID), **kwargs)


class Timestamp(fields.AwareDateTime):
    """A datetime converted to UTC; input without an offset is read as UTC.

    A datetime whose UTC form falls outside years 1 to 9999
    (``9999-12-31T23:30:00-05:00``) is refused.
    """

    default_error_messages = {"out_of_range": "Must be between years 1 and 9999 in UTC."}

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None


class StatusList(String):
    """A comma-separated list of statuses, or `all`; loads as a tuple of statuses."""

    def __init__(self, statuses, **kwargs):
        self.statuses = tuple(statuses)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value.strip() == "all":
            return self.statuses
        chosen = tuple(dict.fromkeys(item.strip() for item in value.split(",")))
        unknown = [item for item in chosen if item not in self.statuses]
        if unknown or not chosen:
            raise ma.ValidationError(
                f"Unknown status; give a comma-separated list of {', '.join(self.statuses)}, "
                "or all."
            )
        return chosen


class ErrorSchema(Schema):
    error = fields.Boolean(required=True, metadata={"example": True})
    message = fields.String(required=True, metadata={"example": "Event not found"})
    status_code = fields.Integer(required=True, metadata={"example": 404})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Present on validation failures: messages per input field.",
            "example": {"title": ["Missing data for required field."]},
        },
    )


class PageArgs(Schema):
    skip = fields.Integer(
        load_default=0,
        validate=Range(0, MAX_SKIP),
        metadata={"description": "Number of items to skip."},
    )
    limit = fields.Integer(
        load_default=20,
        validate=Range(1, 100),
        metadata={"description": "Number of items to return (1-100)."},
    )


TOTAL_COUNT_HEADER = {
    "X-Total-Count": {
        "description": "Number of items matching the query, ignoring skip and limit.",
        "schema": {"type": "integer"},
    }
}
