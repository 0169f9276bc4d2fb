"""What passes the request boundary is what every layer below can hold.

Hypothesis throws hostile values at every input schema, at the JSON reader and
at the raw bodies of every write: the answer is a 400 (or a success), never a
5xx, and a refused request changes nothing, on SQLite and PostgreSQL.
"""

import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from eventbook import boundary, create_app

# Every schema module, so that every input schema is a subclass of Schema here.
from eventbook.auth import schemas as _auth  # noqa: F401
from eventbook.bookings import schemas as _bookings  # noqa: F401
from eventbook.events import schemas as _events  # noqa: F401
from eventbook.extensions import db
from eventbook.models import Booking
from tests.conftest import TEST_SETTINGS
from tests.security.writes import WRITE_NAMES, valid_writes, write_params

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())


def offsets():
    return st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )


# Datetimes at the ends of the calendar, with any offset: their UTC form may not exist.
EDGE_DATETIMES = st.builds(
    lambda moment, offset: moment.replace(tzinfo=offset).isoformat(),
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 2)),
        st.datetimes(min_value=datetime(9999, 12, 31), max_value=datetime(9999, 12, 31, 23, 59)),
        st.datetimes(),
    ),
    offsets(),
)
HOSTILE_TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=80),
    st.text(SURROGATES, min_size=1, max_size=3),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=10), SURROGATES, st.text(max_size=10)),
    st.sampled_from(["\x00", "a\x00b", "\ud800xxxxxxx", "user1@test.com\udc80", " ", ""]),
    EDGE_DATETIMES,
)
HOSTILE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 1),
    st.sampled_from([10**19, -(10**19), 2**63, 10**100, 10**4000]),
    st.floats(),
)
HOSTILE_SCALARS = st.one_of(HOSTILE_TEXT, HOSTILE_NUMBERS, st.booleans(), st.none())
HOSTILE_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(HOSTILE_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def input_schemas(app):
    """Every schema an operation of `app` loads its arguments with (body, query, headers)."""
    found = set()
    for view in app.view_functions.values():
        view_class = getattr(view, "view_class", None)
        methods = view_class.methods if view_class else ()
        handlers = [getattr(view_class, method.lower()) for method in methods] or [view]
        for handler in handlers:
            arguments = getattr(handler, "_apidoc", {}).get("arguments", {})
            for parameter in arguments.get("parameters", []):
                schema = parameter["schema"]
                found.add(schema if isinstance(schema, type) else type(schema))
    return sorted(found, key=lambda schema: schema.__qualname__)


INPUT_SCHEMAS = input_schemas(create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))


def test_every_input_schema_is_found():
    names = {schema.__name__ for schema in INPUT_SCHEMAS}
    assert {"RegisterSchema", "LoginSchema", "EventCreateSchema", "BookingCreateSchema"} <= names
    assert {"EventListArgs", "PageArgs", "IdempotencyHeaders"} <= names


def assert_holdable(value, text_may_hold_nul=False):
    """Assert that every layer below (UTF-8 text, PostgreSQL, bcrypt) can hold `value`.

    The JSON reader hands NUL on (it is text); the schemas refuse it.
    """
    if isinstance(value, str):
        value.encode("utf-8")  # raises on an unpaired surrogate
        assert text_may_hold_nul or "\x00" not in value
    elif isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        assert -(2**63) <= value < 2**63
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            assert_holdable(key, text_may_hold_nul)
            assert_holdable(inner, text_may_hold_nul)
    elif isinstance(value, list):
        for inner in value:
            assert_holdable(inner, text_may_hold_nul)
    else:
        raise AssertionError(f"unexpected {type(value).__name__}: {value!r}")


def with_surrogate(texts):
    """`texts` with an unpaired surrogate put in somewhere."""
    return st.builds(
        lambda text, where, surrogate: text[:where] + surrogate + text[where:],
        texts,
        st.integers(0, 40),
        SURROGATES,
    )


def values_for(field):
    """Values for `field`: mostly of its type, often hostile, sometimes of any type at all."""
    urls = st.text(max_size=20).map(lambda path: "https://example.com/" + path)
    if isinstance(field, ma.fields.Email):
        typed = st.emails() | with_surrogate(st.emails())
    elif isinstance(field, ma.fields.String) and any(
        isinstance(validator, ma.validate.URL) for validator in field.validators
    ):
        typed = urls | with_surrogate(urls)
    elif isinstance(field, ma.fields.String):
        typed = HOSTILE_TEXT | with_surrogate(st.text(max_size=20))
    elif isinstance(field, ma.fields.DateTime):
        typed = EDGE_DATETIMES
    elif isinstance(field, ma.fields.Integer):
        typed = HOSTILE_NUMBERS | st.integers(1, 100)
    else:
        typed = HOSTILE_SCALARS
    return st.one_of(typed, typed, typed, HOSTILE_VALUES)


@pytest.mark.parametrize("schema", INPUT_SCHEMAS, ids=lambda schema: schema.__name__)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_input_schema_loads_only_what_the_layers_below_hold(schema, data):
    instance = schema()
    fields = {field.data_key or name: field for name, field in instance.load_fields.items()}
    required = {key: values_for(field) for key, field in fields.items() if field.required}
    optional = {key: values_for(field) for key, field in fields.items() if not field.required}
    values = data.draw(st.fixed_dictionaries(required, optional=optional))
    if data.draw(st.integers(0, 9), label="unknown field") == 0:
        values["unknown"] = data.draw(HOSTILE_VALUES)
    try:
        loaded = instance.load(values)
    except ma.ValidationError as error:
        assert error.messages
    else:
        assert_holdable(loaded)


def json_documents():
    """JSON texts, hostile ones included: deep nesting, long numbers, NaN, escapes."""
    deep = st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth)
    deep_objects = st.integers(1, 3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth)
    long_numbers = st.integers(1, 6000).map(lambda digits: '{"event_id": ' + "9" * digits + "}")
    escapes = st.text(SURROGATES | st.characters(max_codepoint=0x7F), max_size=8).map(
        lambda text: json.dumps({"password": text, text: 1})
    )
    many_keys = st.integers(0, 3000).map(
        lambda count: "{" + ",".join(f'"k{i}": {i}' for i in range(count)) + "}"
    )
    values = HOSTILE_VALUES.map(lambda value: json.dumps(value, allow_nan=True))
    return st.one_of(deep, deep_objects, long_numbers, escapes, many_keys, values, st.text())


@settings(max_examples=400, deadline=None)
@given(document=json_documents())
def test_the_json_reader_refuses_what_it_cannot_hand_on(document):
    try:
        value = boundary.load_json(document.encode("utf-8", "surrogatepass"))
    except boundary.InvalidBody as error:
        assert 0 < len(error.problems) <= boundary.MAX_PROBLEMS
    except ValueError:
        pass  # not JSON (json.JSONDecodeError, UnicodeDecodeError)
    else:
        assert_holdable(value, text_may_hold_nul=True)
        assert depth(value) <= boundary.MAX_DEPTH


def depth(value):
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ('{"password": "\\ud800x"}', "password", "unpaired surrogate"),
        ('{"a": {"\\udfff": 1}}', "a.\\udfff", "Field names must be valid Unicode"),
        ('{"event_id": ' + "9" * 4301 + "}", "event_id", "Integers must lie between"),
        ('{"event_id": ' + "9" * 19 + "}", "event_id", "Integers must lie between"),
        ('{"event_id": -9223372036854775809}', "event_id", "Integers must lie between"),
        ('{"n": NaN}', "n", "NaN is not a JSON value"),
        ('{"n": -Infinity}', "n", "-Infinity is not a JSON value"),
        ('{"n": 1e999}', "n", "out of range"),
        ("[" * 1000 + "]" * 1000, "_schema", "Nested more than 32"),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "a", "Nested more than 32"),
        ('{"a": [' + ",".join(["0"] * 1001) + "]}", "a", "at most 1000 items"),
        ("{" + ",".join(f'"k{i}": 0' for i in range(101)) + "}", "_schema", "100 members"),
    ],
)
def test_the_json_reader_names_the_field_it_refuses(document, field, message):
    with pytest.raises(boundary.InvalidBody) as refused:
        boundary.load_json(document)
    assert message in refused.value.problems[field][0]


def test_the_json_reader_takes_ordinary_documents():
    document = {"title": "Café ☕ 🎉", "n": -(2**63), "x": 1.5, "tags": [None, True, {}]}
    assert boundary.load_json(json.dumps(document).encode()) == document


# --- over HTTP, on SQLite and PostgreSQL ---


def snapshot():
    """Every row of every table."""
    return {
        table.name: db.session.execute(select(table)).all() for table in db.metadata.sorted_tables
    }


@pytest.fixture
def writer(app, make_user, make_event, tokens_for):
    """Send a write as the organiser of an event; return the response and whether rows changed."""
    organiser = make_user(email="user1@example.com")
    event = make_event(organizer_id=organiser.id)
    client = app.test_client()

    def send(write, body):
        method, path, _ = valid_writes(event.id)[write]
        headers = {"Authorization": f"Bearer {tokens_for(organiser)['access_token']}"}
        with app.app_context():
            before = snapshot()
            db.session.remove()
        response = client.open(
            path, method=method, data=body, headers=headers, content_type="application/json"
        )
        with app.app_context():
            changed = snapshot() != before
            db.session.remove()
        return response, changed

    return send


def assert_refused_or_done(response, changed):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        body = response.get_json()
        assert body["error"] is True and body["status_code"] == response.status_code
        assert not changed, "a refused request changed the database"


# The app and its database live for all the examples of a test.
ON_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
HYPOTHESIS_ON_FIXTURES = settings(max_examples=40, deadline=None, suppress_health_check=ON_FIXTURES)


@write_params()
@HYPOTHESIS_ON_FIXTURES
@given(data=st.data())
def test_a_hostile_field_is_refused_or_held(writer, write, data):
    _, _, body = valid_writes(1)[write]
    key = data.draw(st.sampled_from([*body, "unknown"]), label="field")
    value = data.draw(HOSTILE_VALUES, label="value")
    document = json.dumps({**body, key: value}, allow_nan=True)
    assert_refused_or_done(*writer(write, document.encode("utf-8", "surrogatepass")))


@write_params()
@HYPOTHESIS_ON_FIXTURES
@given(
    body=json_documents().map(lambda text: text.encode("utf-8", "surrogatepass"))
    | st.binary(max_size=200)
)
def test_a_hostile_body_is_refused_or_held(writer, write, body):
    assert_refused_or_done(*writer(write, body))


EVENT = {"title": "T", "location": "L", "event_date": "2099-01-01T00:00:00Z", "total_slots": 1}
# JSON escapes unpaired surrogates as "\\ud800": the text is valid, the value is not.
REPORTED_INPUTS = [
    ("POST /auth/login", {"email": "user1@example.com", "password": "\ud800xxxxxxx"}, "password"),
    ("POST /auth/register", {"name": "\ud800", "email": "a@b.co", "password": "12345678"}, "name"),
    ("POST /auth/refresh", {"refresh_token": "\ud800"}, "refresh_token"),
    (
        "POST /auth/password",
        {"current_password": "x", "new_password": "\ud800xxxxxx"},
        "new_password",
    ),
    ("POST /events", {**EVENT, "title": "\ud800"}, "title"),
    ("PATCH /events/{event_id}", {"description": "\udfff"}, "description"),
    ("POST /bookings", '{"event_id": ' + "9" * 5000 + "}", "event_id"),
    ("POST /events", {**EVENT, "event_date": "9999-12-31T23:30:00-05:00"}, "event_date"),
    ("POST /events", {**EVENT, "event_date": "0001-01-01T00:30:00+05:00"}, "event_date"),
    ("PATCH /events/{event_id}", {"event_date": "9999-12-31T23:30:00-05:00"}, "event_date"),
    ("POST /auth/login", "[" * 1000 + "]" * 1000, "_schema"),
    ("POST /auth/refresh", "[" * 1000 + "]" * 1000, "_schema"),
]


@pytest.mark.parametrize(("write", "body", "field"), REPORTED_INPUTS)
def test_each_reported_input_is_a_400_naming_the_field(writer, write, body, field):
    document = body if isinstance(body, str) else json.dumps(body)
    response, changed = writer(WRITE_NAMES.index(write), document)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert not changed


@given(count=st.integers(boundary.MAX_MEMBERS + 1, 96_000))
@settings(max_examples=8, deadline=None, suppress_health_check=ON_FIXTURES)
def test_an_object_of_many_unknown_keys_gets_a_short_answer(client, count):
    # 96,000 keys make a body of just under 1 MiB.
    document = "{" + ",".join(f'"k{i}":0' for i in range(count)) + "}"
    response = client.post("/auth/login", data=document, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "_schema": [f"Objects may have at most {boundary.MAX_MEMBERS} members."]
    }


@given(count=st.integers(21, boundary.MAX_MEMBERS))
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_an_error_body_lists_at_most_twenty_fields(client, count):
    document = {f"unknown{i}": 0 for i in range(count)}
    response = client.post("/auth/login", json=document)
    body = response.get_json()
    assert response.status_code == 400
    assert len(body["errors"]) == 20
    assert f"({count - 18} more fields with errors not listed)" in body["message"]


# --- a body without Content-Length (chunked) is held to the same limit ---


def send_unframed(client, path, body, headers=None):
    """Send `body` as gunicorn hands on a chunked one: no length, input terminated."""
    environ = {
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }
    return client.post(
        path, headers=headers, content_type="application/json", environ_overrides=environ
    )


@given(padding=st.integers(0, 2 * 1024 * 1024))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_an_unframed_body_over_the_limit_is_413_and_books_nothing(
    app, client, make_user, make_event, auth_headers, padding
):
    user, event = make_user(), make_event()
    body = b'{"event_id": %d}' % event.id
    body += b" " * padding
    response = send_unframed(client, "/bookings", body, auth_headers(user))
    with app.app_context():
        booked = db.session.scalars(select(Booking).filter_by(event_id=event.id)).all()
    if len(body) > app.config["MAX_CONTENT_LENGTH"]:
        assert response.status_code == 413
        assert not booked
    else:
        assert response.status_code == 201
        assert len(booked) == 1


def test_a_body_of_a_get_is_read_and_ignored(client):
    response = client.get("/events", data=b"x" * 1000, content_type="application/json")
    assert response.status_code == 200


def test_an_event_in_a_far_timezone_is_stored_in_utc(client, make_user, auth_headers):
    when = datetime(2099, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    response = client.post(
        "/events",
        json={"title": "T", "location": "L", "event_date": when.isoformat(), "total_slots": 1},
        headers=auth_headers(make_user()),
    )
    assert response.status_code == 201
    assert response.get_json()["event_date"] == when.astimezone(UTC).isoformat()
