"""gunicorn serving `bench.wsgi:app` with the production settings of `gunicorn.conf.py`."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def server_environment(database_url, secret_key, host, port, workers, threads):
    """Return the environment gunicorn runs with."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        # Request lines are logged at INFO: leave them out of the run.
        LOG_LEVEL="WARNING",
        HOST=host,
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        # bench/wsgi.py turns the limiter off; should it be on, the ticket drop's
        # users (two booking requests each) must not be refused.
        BOOKING_RATE_LIMIT="1000000 per minute",
    )
    env.pop("DEBUG", None)
    return env


def command(*extra):
    return [str(GUNICORN), "-c", "gunicorn.conf.py", *extra, "bench.wsgi:app"]


def settings(env):
    """Return gunicorn's effective settings for `env`, as `gunicorn --print-config` shows them."""
    output = subprocess.run(
        command("--print-config"), cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    keep = ("bind", "workers", "worker_class", "threads", "worker_connections", "timeout")
    keep += ("keepalive", "preload_app", "backlog", "loglevel")
    return {name: values.get(name) for name in keep}


def port_in_use(host, port):
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def wait_until_ready(process, url, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not ready after {timeout} s; see {log_path}")


def stop(process, timeout=45):
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(env, log_path):
    """Run gunicorn with `env` until the block ends (also on an error or Ctrl-C)."""
    url = f"http://{env['HOST']}:{env['PORT']}"
    if port_in_use(env["HOST"], int(env["PORT"])):
        raise RuntimeError(f"{url} is already in use; choose another port with --port")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # A process group of its own: Ctrl-C reaches the harness only, which stops
        # gunicorn in order.
        process = subprocess.Popen(
            command(), cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        wait_until_ready(process, url, log_path)
        yield url
    finally:
        stop(process)
