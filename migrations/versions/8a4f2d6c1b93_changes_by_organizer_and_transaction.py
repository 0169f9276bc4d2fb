"""The change feed reads an organiser's changes by transaction id

Revision ID: 8a4f2d6c1b93
Revises: 3c9e51f0a7d2
Create Date: 2026-11-29 21:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "8a4f2d6c1b93"
down_revision = "3c9e51f0a7d2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_organizer_id_xid", ["organizer_id", "xid"], unique=False)


def downgrade():
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_organizer_id_xid")
