"""The change log (a transactional outbox) and the change feed that reads it.

`record_change` (or `record_changes`, for many at once) writes a change in
the caller's transaction, with one delivery per matching webhook
subscription, so that both exist if and only if the change commits.

The feed never skips a change and never shows one twice, although
transactions commit out of the order of the ids they took. On SQLite,
writers are serialised: ids commit in order, and the cursor is the last id
read. On PostgreSQL, each change records its transaction's id (`xid`); a
cursor holds the snapshot (`pg_current_snapshot()`) up to which the reader
has read everything, and the next page shows the changes of transactions
visible in a newer snapshot but not in that one, by id. Every transaction
visible in a snapshot has finished, so the set of changes between two
snapshots is final, and a change of a transaction still in flight waits for
a later snapshot. The changes of one event take their ids in the order
their transactions commit (each locks the event first), so a reader sees
them in that order.
"""

import base64
import binascii
import json
import re
from functools import cache

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
)

from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import Event, utcnow
from eventbook.webhooks.models import Change, WebhookDelivery, WebhookSubscription

# Every change a subscription may ask for, and the feed may show.
CHANGE_TYPES = (
    "event.created",
    "event.updated",
    "event.published",
    "event.cancelled",
    "booking.held",
    "booking.confirmed",
    "booking.cancelled",
    "booking.expired",
    "booking.event_cancelled",
    "booking.checked_in",
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.accepted",
    "waitlist.expired",
    "waitlist.left",
    "waitlist.closed",
)


class InvalidCursor(DomainError):
    message = "Invalid cursor: pass back a next_cursor given by this endpoint"


def _is_postgresql():
    return db.session.get_bind().dialect.name == "postgresql"


# Changes written by one INSERT: an event cancelled with many bookings
# records them in batches of this many rows, not one statement each.
RECORD_BATCH = 500


def record_change(change_type, event_id, data):
    """Record a change of an event in the current transaction; return its id.

    The change and its deliveries are flushed, never committed here: they
    exist if and only if the caller's transaction commits.

    :param change_type: one of `CHANGE_TYPES`.
    :param event_id: the event changed, or the event of the booking or
        waitlist entry changed; its organiser's feed and subscriptions get it.
    :param data: the API representation of what changed, as of the change
        (a JSON-ready dict, as the resource's schema dumps it).
    :raises ValueError: `change_type` is not one of `CHANGE_TYPES`.
    """
    (change_id,) = record_changes(change_type, event_id, [data])
    return change_id


def record_changes(change_type, event_id, items):
    """Record one change of a type per item, as `record_change` does; return their ids.

    Two statements per `RECORD_BATCH` items (the changes, then their
    deliveries), whatever the number of items: cancelling an event with
    thousands of bookings does not cost a round trip per booking. The
    changes take their ids in the order of `items`.

    :param items: the representations, in the order the changes happened.
    :raises ValueError: `change_type` is not one of `CHANGE_TYPES`.
    """
    if change_type not in CHANGE_TYPES:
        raise ValueError(f"unknown change type {change_type!r}")
    now = utcnow()
    statement = _insert_changes(_is_postgresql())
    fixed = {"type": change_type, "changed_event_id": event_id, "created_at": now}
    change_ids = []
    for start in range(0, len(items), RECORD_BATCH):
        rows = [{**fixed, "data": data} for data in items[start : start + RECORD_BATCH]]
        recorded = db.session.execute(statement, rows).all()
        ids = sorted(change_id for change_id, _ in recorded)
        change_ids += ids
        organizer_id = recorded[0].organizer_id
        if organizer_id is not None:
            _add_deliveries(ids, change_type, organizer_id, now)
    return change_ids


@cache
def _insert_changes(postgresql):
    """The INSERT of changes, built once; run with one parameter set per change.

    Its bind parameters are `type`, `data`, `created_at` and
    `changed_event_id`; the organiser is read from the event, and on
    PostgreSQL the transaction's id recorded. SQLAlchemy sends many
    parameter sets as one multi-row INSERT ("insertmanyvalues"); a statement
    with the rows written into its VALUES could not be cached, and would
    be compiled again on every booking.
    """
    event_id = bindparam("changed_event_id")
    organizer = select(Event.organizer_id).where(Event.id == event_id).scalar_subquery()
    computed = {"event_id": event_id, "organizer_id": organizer}
    if postgresql:
        computed["xid"] = literal_column("pg_current_xact_id()::text::bigint")
    return (
        insert(Change.__table__)
        .values(**computed)
        .returning(Change.__table__.c.id, Change.__table__.c.organizer_id)
    )


def _add_deliveries(change_ids, change_type, organizer_id, now):
    """Queue the changes for each active subscription of the organiser that wants them."""
    types = literal(" ") + WebhookSubscription.event_types + literal(" ")
    subscribed = (
        select(
            WebhookSubscription.id,
            Change.id,
            literal("pending"),
            literal(0),
            literal(now, WebhookDelivery.next_attempt_at.type),
            literal(now, WebhookDelivery.created_at.type),
        )
        .select_from(
            # Every change with every subscription that wants it.
            WebhookSubscription.__table__.join(Change, Change.id.in_(change_ids))
        )
        .where(
            WebhookSubscription.user_id == organizer_id,
            WebhookSubscription.active,
            or_(
                WebhookSubscription.event_types.is_(None),
                types.contains(f" {change_type} ", autoescape=True),
            ),
        )
    )
    columns = ["subscription_id", "change_id", "state", "attempts", "next_attempt_at", "created_at"]
    db.session.execute(insert(WebhookDelivery).from_select(columns, subscribed))


# The feed's cursor -------------------------------------------------------

_SNAPSHOT = re.compile(r"^(\d{1,19}):(\d{1,19}):((?:\d{1,19})(?:,\d{1,19})*)?$")
MAX_CURSOR_LENGTH = 20_000


def _valid_snapshot(value):
    """Check a pg_snapshot's text form `xmin:xmax:xip,...` before PostgreSQL reads it."""
    if value is None:
        return None
    match = _SNAPSHOT.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidCursor()
    xmin, xmax = int(match[1]), int(match[2])
    in_progress = [int(xip) for xip in match[3].split(",")] if match[3] else []
    if not (
        0 < xmin <= xmax < 2**63
        and all(xmin <= xip < xmax for xip in in_progress)
        and in_progress == sorted(set(in_progress))
    ):
        raise InvalidCursor()
    return value


def encode_cursor(position):
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    """Return the position a `next_cursor` names: `{"i", "p"?, "t"?}`.

    :raises InvalidCursor: it is not a cursor this feed gave.
    """
    if not cursor:
        return {"i": 0, "p": None, "t": None}
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidCursor() from None
    if not isinstance(position, dict) or set(position) - {"i", "p", "t"}:
        raise InvalidCursor()
    last_id = position.get("i", 0)
    if type(last_id) is not int or not 0 <= last_id < 2**63:
        raise InvalidCursor()
    return {
        "i": last_id,
        "p": _valid_snapshot(position.get("p")),
        "t": _valid_snapshot(position.get("t")),
    }


def list_changes(user_id, after, limit):
    """Return a page of the changes of the events `user_id` organises, and the next cursor.

    :param after: a cursor from a previous page, or None to start at the
        oldest change kept.
    :returns: `(changes, next_cursor)`; an empty page's cursor continues
        from the same place.
    :raises InvalidCursor:
    """
    position = decode_cursor(after)
    mine = Change.organizer_id == user_id
    if not _is_postgresql():
        changes = db.session.scalars(
            select(Change).where(mine, Change.id > position["i"]).order_by(Change.id).limit(limit)
        ).all()
        last_id = changes[-1].id if changes else position["i"]
        return changes, encode_cursor({"i": last_id})

    previous, target, last_id = position["p"], position["t"], position["i"]
    if target is None:
        target = db.session.scalar(text("SELECT pg_current_snapshot()::text"))
        last_id = 0
    filters = [
        mine,
        Change.id > last_id,
        text("pg_visible_in_snapshot(changes.xid::text::xid8, CAST(:target AS pg_snapshot))")
        .bindparams(target=target),
    ]  # fmt: skip
    if previous is not None:
        filters += [
            Change.xid >= int(previous.split(":")[0]),
            text(
                "NOT pg_visible_in_snapshot(changes.xid::text::xid8,"
                " CAST(:previous AS pg_snapshot))"
            ).bindparams(previous=previous),
        ]
    changes = db.session.scalars(
        select(Change).where(*filters).order_by(Change.id).limit(limit + 1)
    ).all()
    if len(changes) > limit:  # more of this snapshot's changes to come
        changes = changes[:limit]
        return changes, encode_cursor({"i": changes[-1].id, "p": previous, "t": target})
    return changes, encode_cursor({"i": 0, "p": target, "t": None})


def prune_changes(before, dry_run=False):
    """Delete changes recorded before `before` that no delivery still waits for.

    Their deliveries and attempts go with them. A delivery in flight is
    pending, so its change stays: this is safe while workers deliver.

    :returns: the number of changes deleted (or that would be).
    """
    waiting = exists().where(
        WebhookDelivery.change_id == Change.id, WebhookDelivery.state == "pending"
    )
    old = [Change.created_at < before, ~waiting]
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(Change).where(*old))
    ids = select(Change.id).where(*old).scalar_subquery()
    return db.session.execute(
        delete(Change).where(Change.id.in_(ids)).execution_options(synchronize_session=False)
    ).rowcount
