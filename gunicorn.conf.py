"""gunicorn settings for eventbook, read from the environment (see the README)."""

import atexit
import glob
import os
import shutil
import tempfile

from dotenv import load_dotenv
from gunicorn.glogging import Logger

load_dotenv()


def _remove_when_done(path, made_by=os.getpid()):  # noqa: B008  (the master's pid)
    """Remove `path` when the master ends (the workers inherit the hook)."""
    if os.getpid() == made_by:
        shutil.rmtree(path, ignore_errors=True)


# Metrics (eventbook/metrics.py): each worker writes its values to files in
# this directory, and a scrape adds them up. It must be set before
# prometheus_client is imported, and start empty.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="eventbook-metrics-")
    atexit.register(_remove_when_done, os.environ["PROMETHEUS_MULTIPROC_DIR"])
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
    os.remove(_stale)

from config import Config  # noqa: E402  (after .env is loaded)
from eventbook import server  # noqa: E402
from eventbook.logs import install_handler  # noqa: E402


def usable_cores():
    """Return the number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# Processes give CPU parallelism (bcrypt, serialization); the threads of each
# one overlap waits on the database. With memory:// rate-limit storage every
# process counts on its own, so one process is the default that keeps the
# limits exact; with shared storage (Redis), two per usable core.
_limits_in_memory = Config.RATELIMIT_STORAGE_URI.startswith("memory://")
workers = int(os.environ.get("WEB_CONCURRENCY") or (1 if _limits_in_memory else 2 * usable_cores()))
# gunicorn's threaded worker, gathering each request head before a thread
# takes it (see eventbook/server.py).
worker_class = "eventbook.server.Worker"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Load the application once, before forking: a bad configuration stops the
# server at once with its message instead of failing every worker.
preload_app = True

# A worker silent for `timeout` seconds is killed and replaced; PostgreSQL's
# statement_timeout (15 s, see config.py) ends a slow query well before that.
timeout = 30
# On SIGTERM, workers finish the requests they hold for up to this long.
graceful_timeout = 30
# Idle keep-alive connections are closed after this long.
keepalive = 5
# What one client can hold. nginx in front (deploy/) buffers requests and
# answers oversized ones itself; these hold when gunicorn is reached directly.
# Connections per worker, idle or not; more wait in the listen backlog.
worker_connections = 1000
# The request line (method, path, query), the number of headers and the size of each.
limit_request_line = 4094
limit_request_fields = 32
limit_request_field_size = 8190
pre_request = server.pre_request

# Heartbeat files in memory, not on a disk that may stall.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# Several instances on one host must not share ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True

proc_name = "eventbook"


class ServerLogger(Logger):
    """gunicorn's own messages in the application's format, on standard error.

    The access log stays off: the application logs one line per request itself.
    """

    def setup(self, cfg):
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                self.error_log.removeHandler(handler)
        self.error_log.propagate = True
        install_handler(Config.LOG_FORMAT)


logger_class = ServerLogger
accesslog = None
errorlog = "-"
loglevel = Config.LOG_LEVEL.lower()


def on_starting(server):
    if _limits_in_memory and server.cfg.workers > 1:
        server.log.warning(
            "!!! RATELIMIT_STORAGE_URI is memory:// while %d workers run: each worker "
            "counts on its own, so every rate limit is up to %d times looser. Set "
            "RATELIMIT_STORAGE_URI=redis://host:6379/0 to share the limits.",
            server.cfg.workers,
            server.cfg.workers,
        )


def post_fork(server, worker):
    # Connections must not be shared across processes: give each worker its own pool.
    from eventbook.extensions import db

    with server.app.wsgi().app_context():
        db.engine.dispose(close=False)


def post_worker_init(worker):
    # Each worker sweeps expired holds and offers on a schedule, so every
    # deployment shape passes them on without a process of its own.
    from eventbook.sweeper import start_sweeper

    start_sweeper(worker.wsgi)


def child_exit(server, worker):
    # The pool gauges of a dead worker no longer count.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
