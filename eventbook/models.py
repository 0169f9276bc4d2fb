"""Database models: users, their login token families, events, bookings and the waitlist."""

import uuid
from collections import namedtuple
from datetime import UTC, datetime

import bcrypt
from flask import current_app
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    case,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

from eventbook.auth.normalization import password_bytes, password_candidates
from eventbook.extensions import db


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored in UTC.

    PostgreSQL keeps the offset (timestamptz); SQLite has no time zones, so
    values are stored as naive UTC and given back their UTC offset on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; eventbook stores aware datetimes only")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def hash_password(password):
    """Return the bcrypt hash (str) of `password` in its normalised form (NFKC)."""
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(password_bytes(password), bcrypt.gensalt(rounds)).decode()


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(60))
    # Grows with every password change; a login made under an older version
    # is over (`TokenFamily.password_version`), whenever it was written.
    password_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_password(self, password):
        """Hash `password`, normalised (NFKC); the logins made so far stay valid."""
        self.password_hash = hash_password(password)

    def check_password(self, password):
        """Return True if `password` matches the hash (see `password_match`)."""
        return self.password_match(password) is not None

    def password_match(self, password):
        """Return how `password` matches the hash: "normalized" (NFKC), "as typed"
        (a hash made before passwords were normalised), or None."""
        stored = self.password_hash.encode()
        for form, candidate in password_candidates(password):
            if bcrypt.checkpw(candidate, stored):
                return form
        return None

    def __repr__(self):
        return f"<User {self.id} {self.email}>"


def new_family_id():
    return uuid.uuid4().hex


class TokenFamily(db.Model):
    """One login: the refresh tokens rotated from it and the access tokens it issued.

    Only the newest refresh token of a family is valid (`refresh_jti`).
    Revoking the family logs that login out everywhere.
    """

    __tablename__ = "token_families"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_family_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    refresh_jti: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The user's password version when the login was made.
    password_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The refresh token this family's current one replaced, and when: it is
    # answered again within REFRESH_REUSE_INTERVAL_SECONDS (two tabs at once).
    previous_refresh_jti: Mapped[str | None] = mapped_column(String(36))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="raise_on_sql")


EVENT_STATUSES = ("draft", "published", "cancelled")
# `held` and `confirmed` bookings are live: each takes a slot.
BOOKING_STATUSES = ("held", "confirmed", "expired", "cancelled", "event_cancelled")
LIVE_BOOKING_STATUSES = ("held", "confirmed")
WAITLIST_STATUSES = ("waiting", "offered", "accepted", "expired", "left", "closed")
# A waiting entry waits for a slot; an offered one holds a slot for its user.
ACTIVE_WAITLIST_STATUSES = ("waiting", "offered")


def _one_of(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class DatabaseNow(FunctionElement):
    """The database's clock, plus `seconds`: holds expire on one clock for every host.

    PostgreSQL: the transaction's `now()`. SQLite, embedded in the process,
    has no other clock than the host's; its text form matches the one
    SQLAlchemy stores, so the two compare as text.
    """

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "database_now"

    def __init__(self, seconds=0):
        super().__init__(literal_column(str(int(seconds))))


@compiles(DatabaseNow, "postgresql")
def _postgresql_now(element, compiler, **kwargs):
    seconds = int(element.clauses.clauses[0].name)
    return f"(now() + interval '{seconds} seconds')" if seconds else "now()"


@compiles(DatabaseNow, "sqlite")
def _sqlite_now(element, compiler, **kwargs):
    seconds = int(element.clauses.clauses[0].name)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '{seconds:+d} seconds')"


class EventRules:
    """What an event's columns mean for booking: its derived values, defined once.

    Shared by the ORM's `Event` and the read-only `EventRow`; a class using
    it has the event's columns as attributes.
    """

    __slots__ = ()

    @property
    def booking_count(self):
        """Confirmed bookings, checked-in ones included."""
        return self.booked_count

    @property
    def held_slots(self):
        """Live holds: holds past their expiry no longer count, processed or not."""
        if (
            self.held_count == 0
            or self.next_hold_expiry is None
            or self.next_hold_expiry > utcnow()
        ):
            return self.held_count
        return db.session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.event_id == self.id, Booking.is_live_hold)
        )

    @property
    def waitlist_count(self):
        return self.waiting_count

    @property
    def available_slots(self):
        """What a newcomer can take now: 0 whenever nobody can book."""
        if self.booking_state() != "open":
            return 0
        free = self.total_slots - self.booked_count - self.held_slots - self.waiting_count
        return max(0, free)

    def booking_state(self, now=None):
        """Return why booking is or is not possible now, ignoring capacity.

        One of `cancelled`, `draft`, `past`, `closed`, `not_open`, `open`.
        """
        now = now or utcnow()
        if self.status == "cancelled":
            return "cancelled"
        if self.event_date <= now:
            return "past"
        if self.booking_closes_at is not None and self.booking_closes_at <= now:
            return "closed"
        if self.status == "draft":
            return "draft"
        if self.booking_opens_at is not None and self.booking_opens_at > now:
            return "not_open"
        return "open"

    def has_taken_place(self, now=None):
        return self.event_date <= (now or utcnow())


class Event(EventRules, db.Model):
    """An event and the counters that decide, in one row, whether a slot is free.

    `booked_count` counts confirmed bookings, `held_count` held ones (holds
    and waitlist offers, including holds past their expiry that no
    transaction has processed yet) and `waiting_count` the people waiting.
    The CHECKs make overselling impossible whatever the code does.
    `next_hold_expiry` is never later than the earliest expiry among the
    event's holds: a transaction that finds it due processes the expiries
    before it takes or counts a slot.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("total_slots >= 1 AND total_slots <= 1000000", name="total_slots_range"),
        CheckConstraint(
            "booked_count >= 0 AND held_count >= 0 AND booked_count + held_count <= total_slots",
            name="slots_taken_range",
        ),
        CheckConstraint("waiting_count >= 0", name="waiting_count_range"),
        CheckConstraint(_one_of("status", EVENT_STATUSES), name="status_values"),
        # The public lists: published events by date (an index-only scan
        # finds the ids of a page however far down the list it is).
        Index(
            "ix_events_published_event_date_id",
            "event_date",
            "id",
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
        Index("ix_events_booked_count_id", "booked_count", "id"),
        Index("ix_events_next_hold_expiry", "next_hold_expiry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(255))
    event_date: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total_slots: Mapped[int] = mapped_column(Integer)
    booked_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    held_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waiting_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_hold_expiry: Mapped[datetime | None] = mapped_column(UTCDateTime)
    image_url: Mapped[str | None] = mapped_column(String(500))
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    booking_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booking_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancellation_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    # Grows with every change of the event: the calendar files' SEQUENCE.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<Event {self.id} {self.title!r}>"


_EventColumns = namedtuple("EventColumns", [column.key for column in Event.__table__.columns])


class EventRow(_EventColumns, EventRules):
    """An event read to be answered, not changed: its columns in a named tuple,
    with the derived values of `EventRules`.

    The public reads (one event, the lists, top-booked) use it instead of
    `Event`: an ORM object costs its instance state and identity-map entry
    to load, and every attribute read afterwards goes through the ORM's
    instrumentation, for rows nothing will change. Measured with callgrind
    (the application's instructions per request, PostgreSQL): GET
    /events/{id} 3.18 M -> 2.92 M, top-booked 3.76 M -> 3.29 M, a list of
    20 events 8.61 M -> 6.53 M, against 2.24 M for a request running
    `SELECT 1`. Its fields are the columns of `events`, so a new column is
    one here too.
    """

    __slots__ = ()
    # What a statement selects to build one: `EventRow._make(row)`.
    columns = tuple(Event.__table__.columns)

    @classmethod
    def read(cls, statement, params):
        """Run a SELECT of `columns` with its bind `params`; return its rows as `EventRow`s.

        It runs on the session's connection, in the session's transaction,
        not through `Session.execute`, whose handling of a statement costs
        more than reading the row (measured with callgrind, reading one
        event: 294 k instructions on the connection, 612 k through the
        session, 521 k loading an `Event`).
        """
        return [cls._make(row) for row in db.session.connection().execute(statement, params)]


class EventTotal(db.Model):
    """The number of published events, in one row that triggers on `events` keep exact.

    An unfiltered event list reads its total here instead of counting the
    table on every request. The triggers (in the migrations) count every
    insert, delete and change of status, however it is made: the API,
    `flask seed`, a bulk load or a hand-written statement.
    """

    __tablename__ = "event_total"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(Integer)


class Booking(db.Model):
    """A slot taken by a user: held until `expires_at`, or confirmed.

    Rows are never deleted: a booking changes status. One live booking per
    user and event, by a partial unique index.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_live_user_id_event_id",
            "user_id",
            "event_id",
            unique=True,
            sqlite_where=text(_one_of("status", LIVE_BOOKING_STATUSES)),
            postgresql_where=text(_one_of("status", LIVE_BOOKING_STATUSES)),
        ),
        Index("ix_bookings_user_id_created_at", "user_id", "created_at"),
        Index("ix_bookings_event_id", "event_id"),
        Index(
            "ix_bookings_held_event_id_expires_at",
            "event_id",
            "expires_at",
            sqlite_where=text("status = 'held'"),
            postgresql_where=text("status = 'held'"),
        ),
        CheckConstraint(_one_of("status", BOOKING_STATUSES), name="status_values"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A user with bookings cannot be deleted behind the counters' back; an
    # event can be deleted only while it has no bookings (and takes none).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="confirmed", server_default="confirmed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(lazy="raise_on_sql")
    user: Mapped[User] = relationship(lazy="raise_on_sql")

    @hybrid_property
    def current_status(self):
        """The status as of now: a hold past its expiry reads as `expired`."""
        if self.status == "held" and self.expires_at <= utcnow():
            return "expired"
        return self.status

    @current_status.inplace.expression
    @classmethod
    def _current_status(cls):
        return case(
            (and_(cls.status == "held", cls.expires_at <= DatabaseNow()), "expired"),
            else_=cls.status,
        )

    @hybrid_property
    def is_live_hold(self):
        return self.status == "held" and self.expires_at > utcnow()

    @is_live_hold.inplace.expression
    @classmethod
    def _is_live_hold(cls):
        return and_(cls.status == "held", cls.expires_at > DatabaseNow())

    def __repr__(self):
        return f"<Booking {self.id} {self.status} user={self.user_id} event={self.event_id}>"


class WaitlistEntry(db.Model):
    """A user waiting for a slot of a full event, in order of joining.

    When a slot frees, the first `waiting` entry is `offered` it: a held
    booking (`booking_id`) for its user, in the transaction that freed it.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_active_user_id_event_id",
            "user_id",
            "event_id",
            unique=True,
            sqlite_where=text(_one_of("status", ACTIVE_WAITLIST_STATUSES)),
            postgresql_where=text(_one_of("status", ACTIVE_WAITLIST_STATUSES)),
        ),
        Index(
            "ix_waitlist_entries_waiting_event_id_created_at_id",
            "event_id",
            "created_at",
            "id",
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        Index("ix_waitlist_entries_user_id", "user_id"),
        CheckConstraint(_one_of("status", WAITLIST_STATUSES), name="status_values"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="waiting", server_default="waiting")
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offer: Mapped[Booking | None] = relationship(lazy="raise_on_sql")

    def __repr__(self):
        return f"<WaitlistEntry {self.id} {self.status} user={self.user_id} event={self.event_id}>"


class IdempotencyKey(db.Model):
    """A client's `Idempotency-Key` for one request, and the response it got.

    `status_code` is empty while the first request with the key is in flight.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(JSON)
    # When the key was claimed (or taken over after an abandoned attempt).
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
