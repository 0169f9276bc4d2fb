"""The number of events, in a row kept exact by triggers

Revision ID: b6e2d0c7a9f1
Revises: 63512a81023c
Create Date: 2026-11-24 08:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b6e2d0c7a9f1"
down_revision = "63512a81023c"
branch_labels = None
depends_on = None

# As in eventbook.models.EVENT_TOTAL_TRIGGERS when this revision was written.
TRIGGERS = {
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


def upgrade():
    op.create_table(
        "event_total",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_event_total_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_total")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Inserts and deletes of events wait while the count is taken.
        op.execute("LOCK TABLE events IN SHARE MODE")
    op.execute("INSERT INTO event_total (id, events) SELECT 1, count(*) FROM events")
    for statement in TRIGGERS[bind.dialect.name]:
        op.execute(statement)


def downgrade():
    for name in ("count_inserted_events", "count_deleted_events", "count_truncated_events"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON events")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION count_events()")
    op.drop_table("event_total")
