"""The committed migrations build exactly the schema the models describe."""

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from eventbook import create_app
from eventbook.extensions import db
from tests.conftest import BACKENDS, TEST_SETTINGS


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_postgresql_database")


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database_url):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_the_lifecycle_migration_keeps_every_booking_and_event(empty_database_url):
    """Bookings of the previous revision become confirmed, events published; nothing is lost."""
    from sqlalchemy import text

    from eventbook.integrity import find_discrepancies

    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade(revision="5d1e9a7c3b42")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, name, email, password_hash, created_at) VALUES "
                    "(1, 'A', 'a@example.com', 'x', '2026-01-01 10:00:00'), "
                    "(2, 'B', 'b@example.com', 'x', '2026-01-01 10:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO events (id, title, location, event_date, total_slots, "
                    "booked_count, created_at) VALUES "
                    "(1, 'One', 'Hall', '2031-01-01 10:00:00', 5, 2, '2026-01-01 10:00:00'), "
                    "(2, 'Two', 'Hall', '2031-02-01 10:00:00', 3, 1, '2026-01-01 10:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO bookings (id, user_id, event_id, created_at) VALUES "
                    "(1, 1, 1, '2026-01-02 10:00:00'), (2, 2, 1, '2026-01-03 10:00:00'), "
                    "(3, 1, 2, '2026-01-04 10:00:00')"
                )
            )
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            bookings = connection.execute(
                text("SELECT id, status, confirmed_at IS NOT NULL FROM bookings ORDER BY id")
            ).all()
            events = connection.execute(
                text("SELECT id, status, booked_count, held_count FROM events ORDER BY id")
            ).all()
            listed = connection.scalar(text("SELECT events FROM event_total"))
        assert [tuple(row) for row in bookings] == [
            (1, "confirmed", True),
            (2, "confirmed", True),
            (3, "confirmed", True),
        ]
        assert [tuple(row) for row in events] == [(1, "published", 2, 0), (2, "published", 1, 0)]
        assert listed == 2
        assert find_discrepancies() == []
        db.session.remove()
        db.engine.dispose()
