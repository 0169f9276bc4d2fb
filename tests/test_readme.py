"""The README's curl walkthrough runs as written against a live server.

The block that starts with `API=http://127.0.0.1:8000` is run with bash
against gunicorn serving a database prepared as `make run` prepares it.
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


def test_the_walkthrough_runs_as_written_against_a_live_server(served_database, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed; the README walkthrough needs it")
    script = walkthrough()
    migrate_and_seed(served_database)
    with gunicorn(served_database) as url:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace(WALKTHROUGH_START, f"API={url}\n")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}"
    answered = [int(status) for status in re.findall(r"^HTTP (\d{3})$", result.stderr, re.M)]
    expected = expected_statuses(script)
    assert answered == expected, f"answered {answered}, README says {expected}:\n{result.stdout}"
    assert '"email":"ada@example.com"' in result.stdout
    assert "X-Total-Count: 8" in result.stdout  # the demo data's eight events
    assert not (tmp_path / "tokens.json").exists()
