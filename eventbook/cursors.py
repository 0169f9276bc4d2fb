"""Keyset cursors: where the next page of a list ordered by (a time, an id) starts.

A cursor is the (timestamp, id) of the last row of a page, packed into 12
bytes (microseconds since the Unix epoch, signed 64 bits; the id, signed 32
bits, big-endian) and written in base64url without padding: exactly 16
characters. Every such string whose parts are in range is a valid cursor,
and any other string is refused, so a cursor has one spelling only.
"""

import base64
import re
import struct
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from flask import request
from marshmallow import ValidationError, fields

from eventbook.schemas import MAX_ID

_PACKING = struct.Struct(">qi")
_SPELLING = re.compile(r"[A-Za-z0-9_-]{16}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVALID = "Not a valid cursor: pass back the X-Next-Cursor of a previous page."


def encode_cursor(key):
    """Return the cursor of `key`, a (timezone-aware datetime, id) pair."""
    moment, row_id = key
    microseconds = (moment - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(_PACKING.pack(microseconds, row_id)).decode()


def decode_cursor(cursor):
    """Return the (UTC datetime, id) pair a cursor encodes.

    :raises ValueError: `cursor` is not a cursor `encode_cursor` can write.
    """
    if not _SPELLING.fullmatch(cursor):
        raise ValueError(_INVALID)
    microseconds, row_id = _PACKING.unpack(base64.urlsafe_b64decode(cursor))
    if not 1 <= row_id <= MAX_ID:
        raise ValueError(_INVALID)
    try:
        return _EPOCH + timedelta(microseconds=microseconds), row_id
    except OverflowError:  # outside the years 1 to 9999
        raise ValueError(_INVALID) from None


class Cursor(fields.String):
    """A keyset cursor in a query string, loaded as its (datetime, id) pair."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from None


def page_headers(page):
    """Return the headers of a page of a list: its total and, unless last, the next page.

    `X-Next-Cursor` is the next page's cursor and `Link` (RFC 8288) its URL
    with `rel="next"`: this request's URL with `after` instead of `skip`.
    """
    headers = {"X-Total-Count": str(page.total)}
    if page.next_key is not None:
        cursor = encode_cursor(page.next_key)
        query = [
            (name, value)
            for name, value in request.args.items(multi=True)
            if name not in ("skip", "after")
        ]
        url = f"{request.script_root}{request.path}?{urlencode([*query, ('after', cursor)])}"
        headers["X-Next-Cursor"] = cursor
        headers["Link"] = f'<{url}>; rel="next"'
    return headers


PAGE_HEADERS = {
    "X-Next-Cursor": {
        "description": "The cursor of the next page, to pass as `after`; absent on the last page.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The URL of the next page, as `<url>; rel="next"` (RFC 8288); '
        "absent on the last page.",
        "schema": {"type": "string"},
    },
}
