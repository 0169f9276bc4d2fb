"""The attendee list as CSV, streamed, with formula injection neutralised.

Spreadsheets run a cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula. Following OWASP's "CSV Injection" guidance,
such a cell is prefixed with `'`, which makes it text.
"""

import csv
import io
from datetime import datetime

from eventbook.attendees.operations import ATTENDEE_COLUMNS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """Return `value` as the text of a CSV cell that no spreadsheet runs as a formula.

    Datetimes are written in ISO 8601, as in JSON; None is an empty cell.
    """
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(rows, chunk_size=64 * 1024):
    """Yield the CSV (RFC 4180, CRLF lines) of a header and `rows` of `ATTENDEE_COLUMNS`.

    Lines are gathered into chunks of about `chunk_size` characters.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ATTENDEE_COLUMNS)
    for row in rows:
        writer.writerow([cell(value) for value in row])
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
