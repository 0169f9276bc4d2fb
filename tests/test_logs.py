"""One log line per request, as text or JSON, carrying the response's request id."""

import json
import re

import pytest

from eventbook import create_app
from tests.live import call, gunicorn

TEXT_REQUEST_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO \[(?P<request_id>[^\]]+)\] eventbook\.request: "
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<duration>[\d.]+)ms "
    r"user=(?P<user>\S+) addr=(?P<addr>\S+)$"
)


@pytest.fixture
def database_url(sqlite_database):
    return sqlite_database


@pytest.fixture(params=["text", "json"])
def log_format(request):
    return request.param


@pytest.fixture
def settings(settings, log_format):
    return {**settings, "LOG_LEVEL": "INFO", "LOG_FORMAT": log_format}


def request_lines(output, log_format):
    """Parse the request lines out of the captured log output."""
    lines = []
    for line in output.splitlines():
        if log_format == "json":
            entry = json.loads(line)
            if entry["logger"] == "eventbook.request":
                lines.append(entry)
        elif match := TEXT_REQUEST_LINE.match(line):
            lines.append(match.groupdict())
    return lines


def test_one_line_per_request_with_the_id_the_response_carried(client, capsys, log_format):
    capsys.readouterr()
    given = client.get("/events", headers={"X-Request-ID": "trace-me-42"})
    generated = client.get("/events/999")
    [first, second] = request_lines(capsys.readouterr().err, log_format)
    assert first["request_id"] == given.headers["X-Request-ID"] == "trace-me-42"
    assert second["request_id"] == generated.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", second["request_id"])
    assert (first["method"], first["path"], str(first["status"])) == ("GET", "/events", "200")
    assert (second["path"], str(second["status"])) == ("/events/999", "404")


def test_an_unusable_request_id_is_replaced(client, capsys, log_format):
    capsys.readouterr()
    response = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    [line] = request_lines(capsys.readouterr().err, log_format)
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("log_format", ["json"])
def test_json_lines_carry_typed_fields(client, capsys, make_user, auth_headers):
    headers = auth_headers(make_user())
    capsys.readouterr()
    response = client.get("/auth/me", headers=headers)
    [line] = request_lines(capsys.readouterr().err, "json")
    assert line["user_id"] == response.get_json()["id"]
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["remote_addr"] == "127.0.0.1"
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


@pytest.mark.parametrize("log_format", ["text"])
def test_text_lines_name_the_user_when_known(client, capsys, make_user, auth_headers):
    user = make_user()
    headers = auth_headers(user)
    capsys.readouterr()
    client.get("/auth/me", headers=headers)
    client.get("/auth/me")
    [known, anonymous] = request_lines(capsys.readouterr().err, "text")
    assert known["user"] == str(user.id)
    assert anonymous["user"] == "-" and anonymous["status"] == "401"


def test_passwords_tokens_and_query_strings_are_never_logged(client, capsys, make_user, log_format):
    make_user(email="ada@example.com", password="correct-horse-battery")
    login = client.post(
        "/auth/login", json={"email": "ada@example.com", "password": "correct-horse-battery"}
    )
    token = login.get_json()["access_token"]
    client.get("/auth/me?api_key=hunter2", headers={"Authorization": f"Bearer {token}"})
    client.post("/auth/logout", json={"refresh_token": login.get_json()["refresh_token"]})
    output = capsys.readouterr().err
    assert len(request_lines(output, log_format)) == 3
    for secret in ("correct-horse-battery", token, token.split(".")[2], "hunter2", "Bearer"):
        assert secret not in output


@pytest.mark.parametrize("log_format", ["text"])
def test_control_characters_in_the_path_cannot_forge_a_line(client, capsys):
    capsys.readouterr()
    client.get("/nowhere%0D%0A2030-01-01T00:00:00.000Z")
    output = capsys.readouterr().err
    [line] = request_lines(output, "text")
    assert line["path"] == "/nowhere\\x0d\\x0a2030-01-01T00:00:00.000Z"
    assert len(output.splitlines()) == 1


@pytest.mark.parametrize("log_format", ["json"])
def test_a_crash_is_logged_with_its_trace_and_request_id(settings, capsys):
    app = create_app(settings)

    @app.get("/crash")
    def crash():
        raise RuntimeError("secret internals")

    capsys.readouterr()
    response = app.test_client().get("/crash")
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [error] = [entry for entry in entries if entry["level"] == "ERROR"]
    [line] = [entry for entry in entries if entry["logger"] == "eventbook.request"]
    assert "RuntimeError: secret internals" in error["exception"]
    assert error["request_id"] == line["request_id"] == response.headers["X-Request-ID"]
    assert line["status"] == 500


def test_an_unknown_log_format_stops_the_application(settings):
    with pytest.raises(RuntimeError, match="LOG_FORMAT must be one of text, json"):
        create_app({**settings, "LOG_FORMAT": "xml"})


@pytest.mark.live
def test_gunicorn_prints_exactly_one_line_per_request(app, database_url, tmp_path, log_format):
    """Under gunicorn, the application's line is the only one: no access log beside it."""
    with open(tmp_path / "server.log", "w+") as output:
        with gunicorn(database_url, output=output, LOG_LEVEL="INFO", LOG_FORMAT=log_format) as url:
            output.seek(0, 2)
            start = output.tell()
            answers = [
                call("GET", f"{url}/events", headers={"X-Request-ID": "live-1"}),
                call("GET", f"{url}/events/424242"),
                call("POST", f"{url}/auth/login", {"email": "x@example.com", "password": "pw-123"}),
            ]
        output.seek(0)
        whole_run = output.read()
    printed = whole_run[start:]
    lines = request_lines(printed, log_format)
    assert [line["request_id"] for line in lines] == [h["X-Request-ID"] for _, _, h in answers]
    assert [str(line["status"]) for line in lines] == ["200", "404", "401"]
    # No second line per request (an access log beside the application's):
    assert sum("/events/424242" in line for line in printed.splitlines()) == 1
    assert "pw-123" not in printed
    if log_format == "json":
        # gunicorn's own lines are JSON too
        assert all(json.loads(line) for line in whole_run.splitlines())
