"""The README's curl walkthrough runs as written against a live server.

The block that starts with `API=http://127.0.0.1:8000` is run with bash,
twice, against one gunicorn serving a database prepared as `make run`
prepares it; the metrics endpoint then shows both runs.
Every `curl` in it ends with a comment naming the status it expects, and
prints the status it got (its `-w "$STATUS"`); the two lists must agree.
"""

import re
import shutil
import subprocess

import pytest

from tests.live import ROOT, gunicorn, migrate_and_seed

pytestmark = pytest.mark.live

WALKTHROUGH_START = "API=http://127.0.0.1:8000\n"
METRICS_TOKEN = "walkthrough-metrics-token"


def walkthrough():
    """Return the README's walkthrough: the bash block that starts with `API=...`."""
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"^```bash\n(.*?)^```$", readme, re.DOTALL | re.MULTILINE):
        if block.startswith(WALKTHROUGH_START):
            return block
    raise AssertionError(f"README.md has no ```bash block starting with {WALKTHROUGH_START!r}")


def expected_statuses(script):
    """Return the status each `curl` of `script` announces in its closing comment."""
    statuses, in_curl = [], False
    for number, line in enumerate(script.splitlines(), 1):
        in_curl = in_curl or re.search(r"(^|\$\()curl ", line) is not None
        if in_curl and not line.endswith("\\"):
            match = re.search(r"  # (\d{3})$", line)
            assert match, f"README walkthrough line {number}: a curl must end with '  # <status>'"
            statuses.append(int(match.group(1)))
            in_curl = False
    return statuses


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def served_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'eventbook.db'}"
    return request.getfixturevalue("fresh_postgresql_database")


def test_every_curl_of_the_walkthrough_announces_its_status():
    statuses = expected_statuses(walkthrough())
    assert len(statuses) >= 15
    assert {200, 201, 204, 401} <= set(statuses)


def run_walkthrough(script, url, directory):
    """Run the walkthrough against `url`; return what it printed (stdout, stderr)."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(WALKTHROUGH_START, f"API={url}\n")],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}"
    return result.stdout, result.stderr


def test_the_walkthrough_runs_twice_as_written_against_a_live_server(served_database, tmp_path):
    """The second run, against the same server and database, answers the same."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed; the README walkthrough needs it")
    script = walkthrough()
    expected = expected_statuses(script)
    migrate_and_seed(served_database)
    with gunicorn(served_database, METRICS_TOKEN=METRICS_TOKEN) as url:
        for run in (1, 2):
            stdout, stderr = run_walkthrough(script, url, tmp_path)
            answered = [int(status) for status in re.findall(r"^HTTP (\d{3})$", stderr, re.M)]
            assert answered == expected, f"run {run}: answered {answered}, README says {expected}"
            assert re.search(r'"email":"ada-[0-9a-f]{8}@example\.com"', stdout)
            # The demo data's nine published events; the walkthrough's own are
            # deleted or cancelled, so not listed.
            assert "X-Total-Count: 9" in stdout
            assert not (tmp_path / "tokens.json").exists()
        metrics = subprocess.run(
            ["curl", "-s", "-H", f"Authorization: Bearer {METRICS_TOKEN}", f"{url}/metrics"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    # The metrics show both runs: each booked four times (a booking, a hold,
    # the small event's slot, the door test), cancelled twice and registered
    # two people.
    assert 'eventbook_bookings_total{outcome="booked"} 8.0' in metrics
    assert 'eventbook_cancellations_total{outcome="cancelled"} 4.0' in metrics
    registered = 'method="POST",route="/auth/register",status="201"} 4.0'
    assert f"eventbook_http_request_duration_seconds_count{{{registered}" in metrics
