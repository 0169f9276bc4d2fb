"""A production-like cluster for tests: gunicorn instances, and servers to break.

`Instance` is one gunicorn server (a master and its workers) of the real
application, behind its own nginx with the shipped site, as production runs
it (`url` is nginx's, `direct_url` gunicorn's). `PrivatePostgres` and
`PrivateRedis` are servers of the tests' own, on free ports, that a test may
stop and restart without disturbing the machine's shared ones.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from sqlalchemy.engine import make_url

from tests import services
from tests.live import ROOT, call, free_port, server_environment
from tests.proxy import Nginx, nginx_binary
from tests.services import PrivatePostgres, PrivateRedis  # noqa: F401  (the cluster's servers)


class Instance:
    """One gunicorn server of the application."""

    def __init__(
        self, database_url, *, workers=2, threads=4, app="wsgi:app", proxy=True, **environment
    ):
        self.port = free_port()
        self.direct_url = self.url = f"http://127.0.0.1:{self.port}"
        self.proxy, self.proxy_wanted = None, proxy
        if proxy:
            nginx_binary()  # skip before starting anything
            environment.setdefault("TRUSTED_PROXIES", "1")
        self.log = tempfile.NamedTemporaryFile("w+", prefix="gunicorn-", suffix=".log")  # noqa: SIM115
        env = server_environment(
            database_url,
            HOST="127.0.0.1",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            # Few connections per worker: several instances share one server.
            DATABASE_POOL_SIZE=str(threads),
            DATABASE_MAX_OVERFLOW="2",
            **environment,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    def wait_until_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.direct_url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(
                f"gunicorn did not answer at {self.direct_url}:\n{self.log_text()[-3000:]}"
            )
        if self.proxy_wanted:
            self.proxy = Nginx([f"127.0.0.1:{self.port}"]).wait_until_up()
            self.url = self.proxy.url
        return self

    def worker_pids(self):
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def kill_worker(self):
        """SIGKILL one worker, as the kernel's OOM killer would; return its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def log_text(self):
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextlib.contextmanager
def instances(database_url, count=2, **options):
    """Run `count` instances of the application on one database; yield them."""
    started = [Instance(database_url, **options) for _ in range(count)]
    try:
        for instance in started:
            instance.wait_until_up()
        yield started
    finally:
        for instance in started:
            instance.stop()


def in_parallel(function, arguments, start_together=True):
    """Call `function(*args)` for each item of `arguments`, each in its own thread.

    :returns: the results, in the order of `arguments`.
    """
    barrier = threading.Barrier(len(arguments)) if start_together else None
    results = [None] * len(arguments)

    def run(index, args):
        if barrier:
            barrier.wait()
        results[index] = function(*args)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def timed_call(method, url, body=None, headers=None, timeout=20):
    """Like `call`, with the duration, and a status of None when no answer came."""
    started = time.monotonic()
    try:
        status, payload, _ = call(method, url, body, headers, timeout=timeout)
    except OSError as error:
        status, payload = None, {"transport_error": str(error)}
    return status, payload, time.monotonic() - started


class PrivatePgBouncer:
    """PgBouncer of the test's own, in transaction pooling mode, in front of
    the PostgreSQL server at `server_url`, with at most `pool_size` server
    connections per database."""

    def __init__(self, server_url, pool_size=4):
        binary = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
        if not binary:
            services.skip_or_fail("pgbouncer is not installed (apt-get install pgbouncer)")
        server = make_url(server_url)
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="eventbook-pgbouncer-"))
        (self.directory / "userlist.txt").write_text(f'"{server.username}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            PGBOUNCER_INI.format(
                host=server.host or "127.0.0.1",
                server_port=server.port or 5432,
                port=self.port,
                pool_size=pool_size,
                user=server.username,
                directory=self.directory,
            )
        )
        as_owner = []
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            shutil.chown(self.directory, "postgres", "postgres")
            for path in self.directory.iterdir():
                shutil.chown(path, "postgres", "postgres")
            as_owner = ["runuser", "-u", "postgres", "--"]
        self.process = subprocess.Popen(
            [*as_owner, binary, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.server_url = server_url

    def url_for(self, database_url):
        """The URL of `database_url`'s database, through this PgBouncer."""
        return (
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def wait_until_up(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self):
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


PGBOUNCER_INI = """\
[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""
