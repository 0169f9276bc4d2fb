"""Fixtures: an application per test on SQLite and, when configured, PostgreSQL.

`TEST_DATABASE_URL` names a PostgreSQL server (and a database to connect to
for administration); the tests create their own throwaway databases on it
and drop them afterwards. `TEST_REDIS_URL` names a Redis database the tests
may use; they only touch keys under their own prefix. Without these
variables the suite starts servers of its own (tests/services.py); the tests
that need a server whose programs are not installed are skipped, unless
`TEST_REQUIRE_SERVICES=1`, which makes a missing service an error.
"""

import os
import shutil
import uuid
from collections import Counter
from datetime import timedelta

import flask_migrate
import pytest
import redis
from sqlalchemy import text

from eventbook import create_app
from eventbook.auth.tokens import issue_tokens
from eventbook.extensions import db
from eventbook.models import Event, User, utcnow
from tests import services

TEST_SETTINGS = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789abcdef",
    "BCRYPT_ROUNDS": 4,
    "RATELIMIT_STORAGE_URI": "memory://",
    # Tests of other behaviour are not throttled; the limits have tests of
    # their own, with their real defaults.
    "BOOKING_RATE_LIMIT": "1000 per minute",
    "LOGIN_RATE_LIMIT": "1000 per minute",
    "LOGIN_ADDRESS_RATE_LIMIT": "1000 per minute",
    "REGISTER_RATE_LIMIT": "1000 per minute",
    "REFRESH_RATE_LIMIT": "1000 per minute",
    "LOGIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
    "EVENT_CREATE_RATE_LIMIT": "1000 per minute",
}
PASSWORD = "password123"
# Seconds after which holds and offers run out in a test about expiry.
SHORT_TTL = 1

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(scope="session")
def postgresql_server():
    """The admin URL of the PostgreSQL server given by TEST_DATABASE_URL."""
    return services.require_postgresql()


def build_schema(url):
    """Build the schema in the database at `url` with the migrations, as production does."""
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return app


@pytest.fixture(scope="session")
def postgresql_database(postgresql_server):
    """One throwaway database shared by the PostgreSQL runs of the suite."""
    with services.throwaway_database(postgresql_server) as url:
        build_schema(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file holding the migrated schema, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "eventbook.db"
    build_schema(f"sqlite:///{path}")
    return path


@pytest.fixture
def fresh_postgresql_database(postgresql_server):
    """An empty PostgreSQL database of its own, dropped after the test."""
    with services.throwaway_database(postgresql_server) as url:
        yield url


@pytest.fixture
def sqlite_database(tmp_path, sqlite_template):
    """The URL of a SQLite database of the test's own, with the schema."""
    path = tmp_path / "eventbook.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def migrated_postgresql_database(fresh_postgresql_database):
    """A PostgreSQL database of the test's own, with the schema."""
    build_schema(fresh_postgresql_database)
    return fresh_postgresql_database


@pytest.fixture(params=BACKENDS)
def database_url(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_database")
    return request.getfixturevalue("postgresql_database")


@pytest.fixture
def settings(database_url):
    """The settings `app` is created with; a test may override some first."""
    return {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url}


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            # The event total stays; the truncation of events sets it to 0.
            tables = ", ".join(
                table.name for table in db.metadata.sorted_tables if table.name != "event_total"
            )
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An application context, for tests that use the database directly."""
    with app.app_context():
        yield


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 1_000_000))

    def make_user(**overrides):
        n = next(counter)
        fields = {"name": f"User {n}", "email": f"user{n}@example.com", **overrides}
        password = fields.pop("password", PASSWORD)
        with app.app_context():
            user = User(**fields)
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            return user

    return make_user


@pytest.fixture
def make_event(app):
    def make_event(**overrides):
        fields = {
            "title": "Test event",
            "location": "Test hall",
            "event_date": utcnow() + timedelta(days=7),
            "total_slots": 10,
            **overrides,
        }
        with app.app_context():
            event = Event(**fields)
            db.session.add(event)
            db.session.commit()
            return event

    return make_event


@pytest.fixture
def tokens_for(app):
    """Log `user` in (a new token family) and return its token pair."""

    def tokens_for(user):
        with app.app_context():
            pair = issue_tokens(user)
            db.session.commit()
            return pair

    return tokens_for


@pytest.fixture
def auth_headers(tokens_for):
    def auth_headers(user):
        return {"Authorization": f"Bearer {tokens_for(user)['access_token']}"}

    return auth_headers


@pytest.fixture
def redis_url():
    return services.require_redis()


@pytest.fixture
def key_prefix(redis_url):
    """A Redis key prefix of the test's own; its keys are deleted afterwards."""
    prefix = f"eventbook-test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


def pytest_report_header(config):
    own = "a throwaway server of the suite's own, if installed"
    return [
        f"PostgreSQL: {services.describe(os.environ.get('TEST_DATABASE_URL')) or own}",
        f"Redis: {services.describe(os.environ.get('TEST_REDIS_URL')) or own}",
    ]


def pytest_unconfigure(config):
    services.stop_own_servers()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With TEST_REQUIRE_SERVICES=1 a skipped PostgreSQL, Redis or browser test fails."""
    report = yield
    needs_service = any(
        item.get_closest_marker(marker) for marker in ("postgresql", "redis", "browser")
    )
    if report.skipped and needs_service and os.environ.get("TEST_REQUIRE_SERVICES") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped although TEST_REQUIRE_SERVICES=1: {report.longrepr}"
    return report


def pytest_terminal_summary(terminalreporter):
    """Print one line per reason tests were skipped, and the figures tests
    recorded with `record_property`."""
    skipped = Counter(
        report.longrepr[2].removeprefix("Skipped: ")
        for report in terminalreporter.getreports("skipped")
        if isinstance(report.longrepr, tuple)
    )
    if skipped:
        terminalreporter.write_sep("-", "skipped")
        for reason, count in skipped.most_common():
            terminalreporter.write_line(f"{count} skipped: {reason}")
    reports = [
        report
        for report in terminalreporter.getreports("passed")
        if report.when == "call" and report.user_properties
    ]
    if reports:
        terminalreporter.write_sep("-", "figures measured by the tests")
        for report in reports:
            figures = ", ".join(f"{name}={value}" for name, value in report.user_properties)
            terminalreporter.write_line(f"{report.nodeid.split('::')[-1]}: {figures}")


@pytest.fixture
def short_ttl(app):
    """Holds and offers made from now on run out after `SHORT_TTL` seconds; return it."""
    app.config["HOLD_TTL_SECONDS"] = app.config["WAITLIST_OFFER_TTL_SECONDS"] = SHORT_TTL
    return SHORT_TTL
