"""Database models: users, their login token families, events and bookings."""

import uuid
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
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("total_slots >= 1 AND total_slots <= 1000000", name="total_slots_range"),
        CheckConstraint(
            "booked_count >= 0 AND booked_count <= total_slots", name="booked_count_range"
        ),
        Index("ix_events_event_date_id", "event_date", "id"),
        Index("ix_events_booked_count_id", "booked_count", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(255))
    event_date: Mapped[datetime] = mapped_column(UTCDateTime)
    total_slots: Mapped[int] = mapped_column(Integer)
    # Maintained by the booking operations in the same transaction as the
    # booking rows; the CHECK above makes overselling impossible.
    booked_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    image_url: Mapped[str | None] = mapped_column(String(500))
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def booking_count(self):
        return self.booked_count

    @property
    def available_slots(self):
        return self.total_slots - self.booked_count

    def has_taken_place(self, now=None):
        return self.event_date <= (now or utcnow())

    def __repr__(self):
        return f"<Event {self.id} {self.title!r}>"


class EventTotal(db.Model):
    """The number of events, in one row that triggers on `events` keep exact.

    An unfiltered event list reads its total here instead of counting the
    table on every request. The triggers (`EVENT_TOTAL_TRIGGERS`) count every
    insert and delete, however it is made: the API, `flask seed`, a bulk
    load or a hand-written statement.
    """

    __tablename__ = "event_total"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(Integer)


EVENT_TOTAL_TRIGGERS = {
    # Statement-level, so a bulk insert updates the row once.
    "postgresql": [
        """
        CREATE FUNCTION count_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE event_total SET events = events + (SELECT count(*) FROM inserted);
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE event_total SET events = events - (SELECT count(*) FROM deleted);
            ELSE
                UPDATE event_total SET events = 0;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER count_inserted_events AFTER INSERT ON events "
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_events()",
        "CREATE TRIGGER count_deleted_events AFTER DELETE ON events "
        "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION count_events()",
        "CREATE TRIGGER count_truncated_events AFTER TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_events()",
    ],
    "sqlite": [
        "CREATE TRIGGER count_inserted_events AFTER INSERT ON events "
        "BEGIN UPDATE event_total SET events = events + 1; END",
        "CREATE TRIGGER count_deleted_events AFTER DELETE ON events "
        "BEGIN UPDATE event_total SET events = events - 1; END",
    ],
}


@sa_event.listens_for(db.metadata, "after_create")
def _count_events(target, connection, **kwargs):
    """Start the count where `create_all` made the tables (the tests); the
    migrations do the same for a real database."""
    if connection.scalar(select(func.count()).select_from(EventTotal)):
        return
    connection.execute(
        insert(EventTotal).from_select(
            ["id", "events"], select(literal(1), func.count()).select_from(Event)
        )
    )
    for statement in EVENT_TOTAL_TRIGGERS[connection.dialect.name]:
        connection.exec_driver_sql(statement)


class Booking(db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        Index("ix_bookings_user_id_created_at", "user_id", "created_at"),
        Index("ix_bookings_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A user with bookings cannot be deleted behind the counters' back; an
    # event takes its bookings with it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(lazy="raise_on_sql")

    def __repr__(self):
        return f"<Booking {self.id} user={self.user_id} event={self.event_id}>"


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
