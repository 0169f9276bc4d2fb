"""gunicorn.conf.py: bind, workers and logging from the environment."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import TEST_SETTINGS
from tests.live import ROOT, gunicorn

SETTINGS_FROM_ENVIRONMENT = (
    "HOST",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "RATELIMIT_STORAGE_URI",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


def gunicorn_config(**environment):
    """Return the settings gunicorn resolves from gunicorn.conf.py in `environment`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_FROM_ENVIRONMENT}
    env.update(SECRET_KEY=TEST_SETTINGS["SECRET_KEY"], **environment)
    printed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return dict(re.findall(r"^(\w+)\s+= (.*)$", printed, re.MULTILINE))


def test_defaults_serve_locally_with_one_threaded_worker():
    config = gunicorn_config()
    assert config["bind"] == "['127.0.0.1:8000']"
    assert config["workers"] == "1"  # memory:// limits stay exact in one process
    assert (config["worker_class"], config["threads"]) == ("eventbook.server.Worker", "4")
    assert config["preload_app"] == "True"


def test_bind_workers_and_threads_come_from_the_environment():
    config = gunicorn_config(HOST="0.0.0.0", PORT="9000", WEB_CONCURRENCY="3", GUNICORN_THREADS="8")
    assert config["bind"] == "['0.0.0.0:9000']"
    assert (config["workers"], config["threads"]) == ("3", "8")


def test_shared_rate_limit_storage_runs_two_workers_per_core():
    config = gunicorn_config(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    assert config["workers"] == str(2 * len(os.sched_getaffinity(0)))


def test_production_safety_settings():
    config = gunicorn_config(LOG_LEVEL="WARNING")
    assert config["control_socket_disable"] == "True"
    assert config["accesslog"] == "None"  # the application logs each request
    assert config["errorlog"] == "-"
    assert config["loglevel"] == "warning"
    assert (config["timeout"], config["graceful_timeout"]) == ("30", "30")


def test_what_one_client_can_hold_is_bounded():
    config = gunicorn_config()
    assert config["worker_connections"] == "200"
    assert config["keepalive"] == "5"  # also the time a request head may take
    assert (config["limit_request_line"], config["limit_request_fields"]) == ("4094", "32")
    assert config["limit_request_field_size"] == "8190"
    assert config["pre_request"] == "<pre_request()>"


@pytest.mark.live
def test_warns_when_several_workers_count_rate_limits_on_their_own(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'eventbook.db'}"
    with open(tmp_path / "server.log", "w+") as output:
        with gunicorn(database_url, workers=2, output=output, LOG_LEVEL="INFO"):
            pass
        output.seek(0)
        printed = output.read()
    assert "!!! RATELIMIT_STORAGE_URI is memory:// while 2 workers run" in printed
