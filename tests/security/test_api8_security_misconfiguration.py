"""OWASP API8:2023 Security Misconfiguration.

Production refuses weak secrets and runs without debug; CORS never pairs
`*` with credentials; responses carry the security headers; error bodies
never show a trace, SQL or a connection string.
"""

import pytest
from sqlalchemy import text

from config import DEFAULT_SECRET_KEY, env_bool
from eventbook import create_app
from eventbook.errors import MESSAGES
from eventbook.extensions import db
from tests.conftest import TEST_SETTINGS

STRONG_KEY = "k" * 48


@pytest.fixture
def production(settings):
    """Settings of a production process (not testing, not debug)."""
    return {**settings, "TESTING": False, "DEBUG": False, "SECRET_KEY": STRONG_KEY}


@pytest.mark.parametrize("key", ["", "short", DEFAULT_SECRET_KEY, "x" * 31])
def test_production_refuses_to_start_with_a_weak_secret(production, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({**production, "SECRET_KEY": key})


@pytest.mark.parametrize("value", [None, "", "false", "0", "no"])
def test_debug_is_off_unless_asked_for(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DEBUG", raising=False)
    else:
        monkeypatch.setenv("DEBUG", value)
    assert env_bool("DEBUG") is False


def test_a_production_app_runs_without_debug(production):
    app = create_app(production)
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is None


ORIGIN = "https://app.example.com"


def preflight(client, origin):
    return client.options(
        "/auth/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )


@pytest.mark.parametrize(
    "origins, origin, allowed",
    [
        ([], ORIGIN, None),
        ([ORIGIN], ORIGIN, ORIGIN),
        ([ORIGIN], "https://evil.example.com", None),
        # Any origin may be allowed, but then never with credentials.
        (["*"], "https://evil.example.com", {"*", "https://evil.example.com"}),
    ],
)
def test_cors_never_allows_credentials(settings, origins, origin, allowed):
    client = create_app({**settings, "CORS_ORIGINS": origins}).test_client()
    for response in (preflight(client, origin), client.get("/events", headers={"Origin": origin})):
        answer = response.headers.get("Access-Control-Allow-Origin")
        assert answer in allowed if isinstance(allowed, set) else answer == allowed
        assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize(
    "method, path", [("GET", "/"), ("GET", "/events"), ("GET", "/nowhere"), ("PUT", "/events")]
)
def test_every_response_carries_the_security_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/auth/login", {"email": "nobody@example.com", "password": "whatever"}),
        ("POST", "/auth/register", {}),
        ("GET", "/auth/me", None),
        ("POST", "/auth/refresh", {"refresh_token": "x"}),
    ],
)
def test_auth_responses_are_not_cached(client, method, path, body):
    response = client.open(path, method=method, json=body)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def failing_sql():
    db.session.execute(text("SELECT password_hash, secret_column FROM users"))


def failing_insert():
    db.session.execute(text("INSERT INTO users (name) VALUES ('no email, no hash')"))


def failing_code():
    raise RuntimeError("internal detail: /srv/app/secret.py line 42")


@pytest.mark.parametrize("crash", [failing_sql, failing_insert, failing_code])
def test_a_crash_shows_nothing_of_the_internals(app, production, crash):
    # `app` has created the tables; this one shares its database.
    production_app = create_app(production)

    @production_app.get("/crash")
    def crash_route():
        crash()

    response = production_app.test_client().get("/crash")
    # SQLite reports a bad statement as an OperationalError, which the API
    # answers as an unavailable database (503); PostgreSQL's is a 500.
    assert response.status_code in (500, 503)
    assert response.get_json() == {
        "error": True,
        "message": MESSAGES[response.status_code],
        "status_code": response.status_code,
    }


def test_an_unreachable_database_shows_no_connection_string():
    url = "postgresql://admin:hunter2-secret@127.0.0.1:1/eventbook"
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    response = app.test_client().get("/events")
    assert response.status_code == 503
    assert b"hunter2" not in response.data and b"127.0.0.1" not in response.data
    assert response.get_json()["message"] == "Service temporarily unavailable"
