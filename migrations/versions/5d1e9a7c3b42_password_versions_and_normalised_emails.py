"""Password versions, refresh reuse interval, one spelling per email

Revision ID: 5d1e9a7c3b42
Revises: b6e2d0c7a9f1
Create Date: 2026-11-29 20:30:00.000000

Emails are rewritten to their normalised form (NFC, lower case, IDNA domain
in Unicode). Accounts whose emails now name the same mailbox are reported as
warnings and left as they are: the account already in normal form, or else
the oldest one, gets the normalised email; the others keep theirs until an
operator merges or renames them (`flask` shows none of them as duplicates
until then, and nobody can register that mailbox again).
"""

import logging
import unicodedata

import idna
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5d1e9a7c3b42"
down_revision = "b6e2d0c7a9f1"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def normalized(email):
    """As eventbook.auth.normalization.normalize_email(strict=False) when this was written."""
    email = unicodedata.normalize("NFC", email.strip())
    local, at, domain = email.rpartition("@")
    if not at:
        return email.lower()
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        domain = domain.lower()
    return f"{local.lower()}@{domain}"


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("password_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("token_families") as batch:
        batch.add_column(
            sa.Column("password_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("previous_refresh_jti", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
    normalize_emails(op.get_bind())


def normalize_emails(connection):
    """Rewrite every email to its normalised form; report the accounts that collide."""
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
    groups = {}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)):
        groups.setdefault(normalized(email), []).append((user_id, email))
    for email, accounts in groups.items():
        already = [user_id for user_id, stored in accounts if stored == email]
        keeper = already[0] if already else min(user_id for user_id, _ in accounts)
        if len(accounts) > 1:
            others = sorted(user_id for user_id, _ in accounts if user_id != keeper)
            log.warning(
                "Accounts %s name the same mailbox as account %s (%s); they keep their "
                "emails until merged or renamed.",
                others,
                keeper,
                email,
            )
        if not already:
            connection.execute(sa.update(users).where(users.c.id == keeper).values(email=email))


def downgrade():
    with op.batch_alter_table("token_families") as batch:
        batch.drop_column("rotated_at")
        batch.drop_column("previous_refresh_jti")
        batch.drop_column("password_version")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_version")
