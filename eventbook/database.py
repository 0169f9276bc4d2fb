"""PostgreSQL settings every transaction runs with, in a form PgBouncer allows.

A statement that waits on a lock or runs away must become a clear 503, not
a hung worker: each transaction sets `lock_timeout` and `statement_timeout`
with `SET LOCAL`, which lasts until its COMMIT or ROLLBACK. Session settings
(libpq `options`, or a plain `SET`) would not do: PgBouncer in transaction
pooling mode refuses the `options` startup parameter and hands a server
connection to another client after each transaction, with whatever a `SET`
left on it.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS

TRANSACTION_SETTINGS = (
    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}; "
    f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"
)


@event.listens_for(Engine, "begin")
def _bound_waits(connection):
    """Send the settings at the start of every PostgreSQL transaction (one round trip)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(TRANSACTION_SETTINGS)
