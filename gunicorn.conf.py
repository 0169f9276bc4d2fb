"""gunicorn settings for eventbook, read from the environment (see the README)."""

import multiprocessing
import os

from dotenv import load_dotenv

load_dotenv()

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# With memory:// rate-limit storage every process counts on its own, so a
# single process (with threads) is the default that keeps limits exact.
_limits_in_memory = os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://")
workers = int(
    os.environ.get("WEB_CONCURRENCY")
    or (1 if _limits_in_memory else multiprocessing.cpu_count() * 2)
)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Load the application once, before forking: a bad configuration stops the
# server at once with its message instead of failing every worker.
preload_app = True
timeout = 30
graceful_timeout = 30
keepalive = 5

# Several instances on one host must not share ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True

errorlog = "-"
accesslog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


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
