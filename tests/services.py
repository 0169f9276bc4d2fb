"""Access to the PostgreSQL and Redis servers the tests may use.

`TEST_DATABASE_URL` and `TEST_REDIS_URL` name servers to use. Without them,
the suite starts throwaway servers of its own (a temporary data directory, a
free port) the first time a test needs one, if the server programs are
installed, and stops them at the end; only when a program is missing are the
tests that need it skipped, with the command that installs it.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

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
    return make_url(url).render_as_string(hide_password=True) if url else None


def libpq_dsn(url):
    url = make_url(normalize_database_url(url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


NO_POSTGRESQL = (
    "PostgreSQL tests need TEST_DATABASE_URL or the server programs to start one "
    "(apt-get install postgresql)"
)
NO_REDIS = (
    "Redis tests need TEST_REDIS_URL or the server program to start one "
    "(apt-get install redis-server)"
)
# Servers the suite started for itself, by kind; `stop_own_servers` ends them.
_own_servers = {}


def _own_server(kind, make, missing):
    """Start the suite's own server of `kind` once; return its URL."""
    if kind not in _own_servers:
        try:
            _own_servers[kind] = make().start()
        except pytest.skip.Exception:
            _own_servers[kind] = None
        except (OSError, subprocess.CalledProcessError) as error:
            _own_servers[kind] = error
    server = _own_servers[kind]
    if server is None:
        skip_or_fail(missing)
    if isinstance(server, Exception):
        skip_or_fail(f"could not start a throwaway {kind} server: {server}")
    return server.url


def stop_own_servers():
    for server in _own_servers.values():
        if isinstance(server, PrivatePostgres):
            server.destroy()
        elif isinstance(server, PrivateRedis):
            server.stop()
    _own_servers.clear()


def require_postgresql():
    url = os.environ.get("TEST_DATABASE_URL") or _own_server(
        "PostgreSQL", lambda: PrivatePostgres(settings=FAST_AND_LOOSE), NO_POSTGRESQL
    )
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
    url = os.environ.get("TEST_REDIS_URL") or _own_server("Redis", PrivateRedis, NO_REDIS)
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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        skip_or_fail("PostgreSQL server programs (pg_ctl, initdb) are not installed")
    return Path(found[-1]).parent


# A throwaway server for the suite need not survive a crash of the machine.
FAST_AND_LOOSE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PrivatePostgres:
    """A PostgreSQL server of the test's own, in a temporary directory.

    :param settings: more server options, as for `postgres` (`-c name=value`).
    """

    def __init__(self, settings=""):
        self.bin = _postgres_bin()
        self.settings = settings
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="eventbook-pg-"))
        self.data = self.directory / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        else:
            self._as_owner = []
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def _run(self, program, *args):
        subprocess.run(
            [*self._as_owner, str(self.bin / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += f" -c max_connections=200 {self.settings}"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"),
            "-w", "start",
        )  # fmt: skip
        return self

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop(mode="immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A Redis server of the test's own."""

    def __init__(self):
        if not shutil.which("redis-server"):
            skip_or_fail("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_redis(self.url)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
