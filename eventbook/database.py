"""PostgreSQL settings for PgBouncer in transaction pooling mode.

Every PostgreSQL session runs with `lock_timeout` and `statement_timeout`,
so that a statement that waits on a lock or runs away becomes a clear 503,
not a hung worker. Connected straight to PostgreSQL, they are libpq
`options` of the session (config.py), at no cost per request. PgBouncer in
transaction pooling mode refuses those options, and hands a server
connection to another client after each transaction, with whatever a plain
`SET` left on it; with `DATABASE_TRANSACTION_POOLING` on, each transaction
therefore sets them itself with `SET LOCAL`, which lasts until its COMMIT or
ROLLBACK (one more round trip per transaction).
"""

from sqlalchemy import event

from config import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS
from eventbook.extensions import db

TRANSACTION_SETTINGS = (
    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}; "
    f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"
)


def _bound_waits(connection):
    """Send the settings at the start of a transaction."""
    connection.exec_driver_sql(TRANSACTION_SETTINGS)


def init_app(app):
    """Set the timeouts per transaction when the database is behind a transaction pooler."""
    if not app.config["DATABASE_TRANSACTION_POOLING"]:
        return
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            event.listen(db.engine, "begin", _bound_waits)
