"""Initial schema: users, token families, events, bookings.

Revision ID: 4f7b2c1dd2e3
Revises:
Create Date: 2026-11-24 04:20:34.832927

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4f7b2c1dd2e3"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("event_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_slots", sa.Integer(), nullable=False),
        sa.Column("booked_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("organizer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "booked_count >= 0 AND booked_count <= total_slots",
            name=op.f("ck_events_booked_count_range"),
        ),
        sa.CheckConstraint(
            "total_slots >= 1 AND total_slots <= 1000000", name=op.f("ck_events_total_slots_range")
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["users.id"],
            name=op.f("fk_events_organizer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_booked_count_id", ["booked_count", "id"], unique=False)
        batch_op.create_index("ix_events_event_date_id", ["event_date", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_organizer_id"), ["organizer_id"], unique=False)

    op.create_table(
        "token_families",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refresh_jti", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_token_families_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_families")),
    )
    with op.batch_alter_table("token_families", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_token_families_user_id"), ["user_id"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_bookings_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bookings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("user_id", "event_id", name=op.f("uq_bookings_user_id_event_id")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_event_id", ["event_id"], unique=False)
        batch_op.create_index(
            "ix_bookings_user_id_created_at", ["user_id", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_user_id_created_at")
        batch_op.drop_index("ix_bookings_event_id")

    op.drop_table("bookings")
    with op.batch_alter_table("token_families", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_token_families_user_id"))

    op.drop_table("token_families")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_organizer_id"))
        batch_op.drop_index("ix_events_event_date_id")
        batch_op.drop_index("ix_events_booked_count_id")

    op.drop_table("events")
    op.drop_table("users")
