"""What a request may carry: a bounded body, whatever its framing, and JSON that every
layer below can hold.

Every request body is read in full before anything answers (bounded by
``MAX_CONTENT_LENGTH`` whether it comes with ``Content-Length`` or chunked), so an
early answer (404, 405, 401, 415) leaves the connection ready for the next request.
A JSON body is parsed here, once, by `load_json`, and refused with a 400 naming the
field when it holds what Python's ``json`` accepts but a layer below cannot:

- text that does not encode to UTF-8 (an unpaired surrogate such as ``"\\ud800"``);
- integers outside 64 bits (no database column holds more; Python refuses to
  parse more than 4,300 digits);
- ``NaN``, ``Infinity`` and numbers that overflow to them (not JSON, RFC 8259 6);
- nesting deeper than `MAX_DEPTH`, objects of more than `MAX_MEMBERS` members and
  arrays of more than `MAX_ITEMS` items, which only cost work to refuse later.
"""

import json
import math

import flask
import flask_smorest
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

MAX_DEPTH = 32
MAX_MEMBERS = 100
MAX_ITEMS = 1000
# A 64-bit signed integer (PostgreSQL's BIGINT, SQLite's INTEGER): at most 19 digits.
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
MAX_DIGITS = 19
# At most this many problems are reported for one body.
MAX_PROBLEMS = 10

NOT_JSON = "The request body is not valid JSON"


class InvalidBody(ValueError):
    """A JSON body that parses but holds values the service cannot take.

    :param problems: messages by field path (``"_schema"`` for the whole body).
    """

    def __init__(self, problems):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msgs[0]}" for field, msgs in problems.items()))


class _Refused:
    """Stands for a JSON value refused while decoding, until its path is known."""

    def __init__(self, message):
        self.message = message


def _parse_int(digits):
    # Counting digits first spares parsing a long one (quadratic, and refused
    # by Python past 4,300 digits).
    if len(digits.lstrip("-")) <= MAX_DIGITS:
        value = int(digits)
        if MIN_INTEGER <= value <= MAX_INTEGER:
            return value
    return _Refused(f"Integers must lie between {MIN_INTEGER} and {MAX_INTEGER}.")


def _parse_float(text):
    value = float(text)
    return value if math.isfinite(value) else _Refused("Number out of range.")


def _parse_constant(name):
    return _Refused(f"{name} is not a JSON value.")


def _object(pairs):
    if len(pairs) > MAX_MEMBERS:
        return _Refused(f"Objects may have at most {MAX_MEMBERS} members.")
    return dict(pairs)


_DECODER = json.JSONDecoder(
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
    object_pairs_hook=_object,
)


def _encodable(text):
    """Whether `text` encodes to UTF-8 (no unpaired surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field_name(key):
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def problems_in(value):
    """Return ``{field path: [message]}`` for what in a decoded JSON value is refused.

    Walks the value iteratively (no recursion however deep it is) and stops
    after `MAX_PROBLEMS` problems.
    """
    problems = {}

    def refuse(path, message):
        problems.setdefault(path or "_schema", []).append(message)

    stack = [(value, "", 1)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, path, depth = stack.pop()
        if isinstance(item, _Refused):
            refuse(path, item.message)
        elif isinstance(item, str):
            if not _encodable(item):
                refuse(path, "Must be valid Unicode text (it holds an unpaired surrogate).")
        elif isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            # Named by the field of the body it is in, not its path of 32 steps.
            refuse(path.split(".", 1)[0], f"Nested more than {MAX_DEPTH} levels deep.")
        elif isinstance(item, list):
            if len(item) > MAX_ITEMS:
                refuse(path, f"Arrays may have at most {MAX_ITEMS} items.")
            else:
                stack.extend(
                    (inner, f"{path}.{index}" if path else str(index), depth + 1)
                    for index, inner in reversed(list(enumerate(item)))
                )
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                field = f"{path}.{_field_name(key)}" if path else _field_name(key)
                # A refused name is reported with its value, in the value's turn.
                stack.append(
                    (_Refused("Field names must be valid Unicode text."), field, depth)
                    if not _encodable(key)
                    else (inner, field, depth + 1)
                )
    return problems


def load_json(data):
    """Decode a JSON document, refusing what the layers below cannot hold.

    :param data: the document, as `str` or UTF-8, UTF-16 or UTF-32 `bytes`.
    :raises json.JSONDecodeError: `data` is not JSON.
    :raises InvalidBody: it is, but holds a value refused here.
    """
    if isinstance(data, (bytes, bytearray)):
        data = data.decode(json.detect_encoding(data))
    try:
        value = _DECODER.decode(data)
    except RecursionError:
        raise InvalidBody({"_schema": [f"Nested more than {MAX_DEPTH} levels deep."]}) from None
    problems = problems_in(value)
    if problems:
        raise InvalidBody(problems)
    return value


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading with `load_json` (``request.get_json()`` included)."""

    def loads(self, s, **kwargs):
        return load_json(s)


class _BodyStream(LimitedStream):
    """A request body of at most `limit` bytes; a client too slow to send it is a 408.

    With `max_length` (a body of unknown length, chunked), exceeding it is a 413:
    werkzeug's own limit stops reading at the limit without an error.
    """

    def __init__(self, stream, limit, max_length=None):
        is_max = max_length is not None
        super().__init__(stream, max_length + 1 if is_max else limit, is_max=is_max)
        self.max_length = max_length

    def readinto(self, buffer):
        size = super().readinto(buffer)
        if self.max_length is not None and self._pos > self.max_length:
            raise RequestEntityTooLarge()
        return size

    def on_disconnect(self, error=None):
        if isinstance(error, TimeoutError):
            raise RequestTimeout()
        super().on_disconnect(error)


class Request(flask.Request):
    """A request whose body limit holds for every framing, and whose JSON is `load_json`'s."""

    @cached_property
    def stream(self):
        source, length = self.environ.get("wsgi.input"), self.content_length
        limit = self.max_content_length
        if self.shallow or limit is None:
            return super().stream
        if length is not None:
            if length > limit:
                raise RequestEntityTooLarge()
            return _BodyStream(source, length)
        if "wsgi.input_terminated" in self.environ:
            return _BodyStream(source, limit, max_length=limit)
        return super().stream

    def on_json_loading_failed(self, e):
        if e is None:  # not a JSON request: 415
            return super().on_json_loading_failed(e)
        if isinstance(e, InvalidBody):
            flask_smorest.abort(400, errors=e.problems)
        flask_smorest.abort(400, message=NOT_JSON)


# Only these carry a body in this API; the body of any other request is read and dropped.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def read_body():
    """Read the whole body before anything answers, so the connection can serve the next
    request; parse it if it is JSON and the method carries one."""
    if request.method in BODY_METHODS:
        if request.get_data(cache=True) and request.is_json:
            request.get_json()
        return
    length = request.content_length
    if length is not None and length > request.max_content_length:
        return  # never read: the server closes the connection (eventbook.server)
    try:
        while request.stream.read(65536):
            pass
    except HTTPException:
        pass  # not for this request to answer: it takes no body


def register_boundary(app):
    """Install the request class, the JSON reader and the body hook (first of all hooks)."""
    app.request_class = Request
    provider = JSONProvider(app)
    provider.sort_keys = app.json.sort_keys
    app.json = provider
    app.before_request(read_body)
