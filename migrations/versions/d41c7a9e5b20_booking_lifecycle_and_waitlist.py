"""Booking lifecycle: statuses instead of deletes, event lifecycle, holds, the waitlist

Existing bookings become `confirmed` (confirmed when they were made) and
existing events `published`. The number of events kept in `event_total`
becomes the number of published events: drafts and cancelled events are not
listed.

Revision ID: d41c7a9e5b20
Revises: 5d1e9a7c3b42
Create Date: 2026-11-29 20:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "d41c7a9e5b20"
down_revision = "5d1e9a7c3b42"
branch_labels = None
depends_on = None

LIVE = "status IN ('held', 'confirmed')"
ACTIVE = "status IN ('waiting', 'offered')"

OLD_TRIGGERS = ("count_inserted_events", "count_deleted_events", "count_truncated_events")

# The count of published events; statement-level on PostgreSQL, so a bulk
# change updates the row once.
PUBLISHED_TRIGGERS = {
    "postgresql": [
        """
        CREATE FUNCTION count_published_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE event_total SET events = events
                    + (SELECT count(*) FROM inserted WHERE status = 'published');
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE event_total SET events = events
                    - (SELECT count(*) FROM deleted WHERE status = 'published');
            ELSE
                UPDATE event_total SET events = 0;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER count_inserted_events AFTER INSERT ON events REFERENCING NEW TABLE "
        "AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_published_events()",
        "CREATE TRIGGER count_deleted_events AFTER DELETE ON events REFERENCING OLD TABLE "
        "AS deleted FOR EACH STATEMENT EXECUTE FUNCTION count_published_events()",
        # Row-level and only on a change of status (rare): a statement-level
        # trigger on every update would make each booking, which updates its
        # event's counters, also update the one event_total row, serialising
        # all bookings of all events.
        """
        CREATE FUNCTION count_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE event_total SET events = events
                + (CASE WHEN NEW.status = 'published' THEN 1 ELSE 0 END)
                - (CASE WHEN OLD.status = 'published' THEN 1 ELSE 0 END);
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER count_updated_events AFTER UPDATE OF status ON events FOR EACH ROW "
        "WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION count_status_change()",
        "CREATE TRIGGER count_truncated_events AFTER TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_published_events()",
    ],
    "sqlite": [
        "CREATE TRIGGER count_inserted_events AFTER INSERT ON events "
        "WHEN NEW.status = 'published' BEGIN UPDATE event_total SET events = events + 1; END",
        "CREATE TRIGGER count_deleted_events AFTER DELETE ON events "
        "WHEN OLD.status = 'published' BEGIN UPDATE event_total SET events = events - 1; END",
        "CREATE TRIGGER count_published_events AFTER UPDATE OF status ON events "
        "WHEN OLD.status != 'published' AND NEW.status = 'published' "
        "BEGIN UPDATE event_total SET events = events + 1; END",
        "CREATE TRIGGER count_unpublished_events AFTER UPDATE OF status ON events "
        "WHEN OLD.status = 'published' AND NEW.status != 'published' "
        "BEGIN UPDATE event_total SET events = events - 1; END",
    ],
}
SQLITE_TRIGGER_NAMES = (
    "count_inserted_events",
    "count_deleted_events",
    "count_published_events",
    "count_unpublished_events",
)
# As revision b6e2d0c7a9f1 made them, for the downgrade.
ALL_EVENT_TRIGGERS = {
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


def _drop_triggers(names, function=None):
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in names:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON events" if postgresql else ""))
    if postgresql and function:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")


def _count_events(where):
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE events IN SHARE MODE")
    op.execute(f"UPDATE event_total SET events = (SELECT count(*) FROM events {where})")


def upgrade():
    dialect = op.get_bind().dialect.name
    _drop_triggers(OLD_TRIGGERS, "count_events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("held_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("waiting_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("next_hold_expiry", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="published", nullable=False)
        )
        for column in (
            "booking_opens_at",
            "booking_closes_at",
            "cancellation_deadline",
            "cancelled_at",
        ):
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancellation_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint(batch_op.f("ck_events_booked_count_range"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_events_slots_taken_range"),
            "booked_count >= 0 AND held_count >= 0 AND booked_count + held_count <= total_slots",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_events_waiting_count_range"), "waiting_count >= 0"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_events_status_values"),
            "status IN ('draft', 'published', 'cancelled')",
        )
        batch_op.create_index("ix_events_next_hold_expiry", ["next_hold_expiry"], unique=False)

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="confirmed", nullable=False)
        )
        for column in ("expires_at", "confirmed_at", "cancelled_at", "checked_in_at"):
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_bookings_user_id_event_id"), type_="unique")
        batch_op.create_check_constraint(
            batch_op.f("ck_bookings_status_values"),
            "status IN ('held', 'confirmed', 'expired', 'cancelled', 'event_cancelled')",
        )
        batch_op.create_index(
            "uq_bookings_live_user_id_event_id",
            ["user_id", "event_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_bookings_held_event_id_expires_at",
            ["event_id", "expires_at"],
            unique=False,
            sqlite_where=sa.text("status = 'held'"),
            postgresql_where=sa.text("status = 'held'"),
        )
    op.execute("UPDATE bookings SET confirmed_at = created_at")

    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="waiting", nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'accepted', 'expired', 'left', 'closed')",
            name=op.f("ck_waitlist_entries_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_waitlist_entries_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_waitlist_entries_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_waitlist_entries_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index("ix_waitlist_entries_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "ix_waitlist_entries_waiting_event_id_created_at_id",
            ["event_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("status = 'waiting'"),
            postgresql_where=sa.text("status = 'waiting'"),
        )
        batch_op.create_index(
            "uq_waitlist_entries_active_user_id_event_id",
            ["user_id", "event_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )

    _count_events("WHERE status = 'published'")
    for statement in PUBLISHED_TRIGGERS[dialect]:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _drop_triggers(
            (
                "count_inserted_events",
                "count_deleted_events",
                "count_updated_events",
                "count_truncated_events",
            ),
            "count_published_events",
        )
        op.execute("DROP FUNCTION IF EXISTS count_status_change()")
    else:
        _drop_triggers(SQLITE_TRIGGER_NAMES)
    op.drop_table("waitlist_entries")
    # Only what the previous schema can hold is kept: the live bookings, and
    # the events that are not cancelled.
    op.execute("DELETE FROM bookings WHERE status NOT IN ('held', 'confirmed')")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_held_event_id_expires_at")
        batch_op.drop_index("uq_bookings_live_user_id_event_id")
        batch_op.drop_constraint(batch_op.f("ck_bookings_status_values"), type_="check")
        batch_op.create_unique_constraint(
            batch_op.f("uq_bookings_user_id_event_id"), ["user_id", "event_id"]
        )
        for column in ("checked_in_at", "cancelled_at", "confirmed_at", "expires_at", "status"):
            batch_op.drop_column(column)
    op.execute("UPDATE events SET booked_count = booked_count + held_count")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_next_hold_expiry")
        batch_op.drop_constraint(batch_op.f("ck_events_status_values"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_events_waiting_count_range"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_events_slots_taken_range"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_events_booked_count_range"),
            "booked_count >= 0 AND booked_count <= total_slots",
        )
        for column in (
            "sequence",
            "cancellation_reason",
            "cancelled_at",
            "cancellation_deadline",
            "booking_closes_at",
            "booking_opens_at",
            "status",
            "next_hold_expiry",
            "waiting_count",
            "held_count",
            "ends_at",
        ):
            batch_op.drop_column(column)
    _count_events("")
    for statement in ALL_EVENT_TRIGGERS[dialect]:
        op.execute(statement)
