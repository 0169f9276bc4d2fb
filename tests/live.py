"""Run the real application under gunicorn, as production does, for a test."""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import TEST_SETTINGS
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def call(method, url, body=None, headers=None, timeout=30):
    """Send one HTTP request; return (status, decoded JSON body or None, headers)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, response_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, response_headers = error.code, error.read(), error.headers
    return status, json.loads(raw) if raw else None, response_headers


def _wait_until_up(url, process, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer at {url} within {timeout}s")


def server_environment(database_url, **environment):
    """The environment the application runs with in these tests."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        **environment,
    }


def flask(database_url, *args, **environment):
    """Run `flask <args>` against the database; return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=server_environment(database_url, **environment),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"flask {' '.join(args)} exited with {result.returncode}:\n{result.stderr}"
        )
    return result.stdout


def migrate_and_seed(database_url):
    """Prepare the database as `make run` does: apply the migrations, load the demo data."""
    flask(database_url, "db", "upgrade")
    flask(database_url, "seed")


@contextlib.contextmanager
def gunicorn(database_url, workers=1, output=None, arguments=(), **environment):
    """Serve the app on a free port; yield its base URL; stop it afterwards.

    Everything the server prints goes to `output` (a file) if given;
    `arguments` are added to gunicorn's command line (they override
    gunicorn.conf.py).
    """
    port = free_port()
    env = server_environment(
        database_url,
        **{"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers), **environment},
    )
    with contextlib.ExitStack() as stack:
        log = output or stack.enter_context(tempfile.TemporaryFile("w+"))
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", *arguments],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
