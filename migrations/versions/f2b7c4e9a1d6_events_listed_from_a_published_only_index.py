"""Public event lists read their page from an index of published events only

Revision ID: f2b7c4e9a1d6
Revises: 8a4f2d6c1b93
Create Date: 2026-11-29 23:20:00.000000

The public lists filter on status = 'published' and order by (event_date,
id). With the status in the index's predicate, the ids of a page far down
the list come from the index alone (an index-only scan) instead of a visit
to every skipped row.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f2b7c4e9a1d6"
down_revision = "8a4f2d6c1b93"
branch_labels = None
depends_on = None

PUBLISHED = sa.text("status = 'published'")


def upgrade():
    op.create_index(
        "ix_events_published_event_date_id",
        "events",
        ["event_date", "id"],
        postgresql_where=PUBLISHED,
        sqlite_where=PUBLISHED,
    )
    op.drop_index("ix_events_event_date_id", table_name="events")


def downgrade():
    op.create_index("ix_events_event_date_id", "events", ["event_date", "id"])
    op.drop_index("ix_events_published_event_date_id", table_name="events")
