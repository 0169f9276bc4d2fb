"""Access to the PostgreSQL and Redis servers the tests may use."""

import contextlib
import os
import time
import uuid

import psycopg2
import pytest
import redis
from sqlalchemy.engine import make_url

from config import normalize_database_url


def skip_or_fail(reason):
    """Skip a test whose service is missing, or fail if services are required."""
    if os.environ.get("TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def describe(url):
    return make_url(url).render_as_string(hide_password=True) if url else "not configured"


def libpq_dsn(url):
    url = make_url(normalize_database_url(url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def require_postgresql():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        skip_or_fail("TEST_DATABASE_URL is not set; PostgreSQL tests need a server")
    try:
        psycopg2.connect(libpq_dsn(url), connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        skip_or_fail(f"PostgreSQL at {describe(url)} does not answer: {error}".strip())
    return url


@contextlib.contextmanager
def _admin_connection(server_url):
    connection = psycopg2.connect(libpq_dsn(server_url))
    connection.autocommit = True
    try:
        yield connection.cursor()
    finally:
        connection.close()


@contextlib.contextmanager
def throwaway_database(server_url):
    """Create an empty database on the server; yield its URL; drop it."""
    name = f"eventbook_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server_url) as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(normalize_database_url(server_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with _admin_connection(server_url) as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_redis():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("TEST_REDIS_URL is not set; Redis tests need a server")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis at {describe(url)} does not answer: {error}")
    return url


def wait_for_redis(url, timeout=10):
    """Wait until the Redis server at `url` answers."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
