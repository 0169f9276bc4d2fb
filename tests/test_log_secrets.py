"""Logs never hold a password, a token or a password hash, whatever the log level."""

import logging

import pytest

from eventbook.extensions import db
from eventbook.models import User

PASSWORD = "first-secret-passphrase"
NEW_PASSWORD = "second-secret-passphrase"


@pytest.fixture
def settings(settings):
    # Reuse detection answers at once (no interval), so its path is logged too.
    return {
        **settings,
        "LOG_LEVEL": "DEBUG",
        "LOGIN_RATE_LIMIT": "2 per minute",
        "REFRESH_REUSE_INTERVAL_SECONDS": 0,
    }


def test_the_auth_flows_log_no_secret(app, client, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    # SQL statements too, as `echo=True` would log them. (SQLAlchemy's DEBUG
    # level adds every result row, a dump no deployment should switch on.)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    secrets = [PASSWORD, NEW_PASSWORD, "wrong-passphrase"]

    register = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=register).status_code == 201
    assert client.post("/auth/register", json=register).status_code == 400
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    tokens = client.post("/auth/login", json=credentials).get_json()
    wrong = {"email": "nobody@example.com", "password": "wrong-passphrase"}
    assert [client.post("/auth/login", json=wrong).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    rotated = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    replayed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (rotated.status_code, replayed.status_code) == (200, 401)
    fresh = client.post("/auth/login", json=credentials).get_json()
    change = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
    )
    assert change.status_code == 204
    with app.app_context():
        password_hash = db.session.scalar(db.select(User.password_hash))
    for pair in (tokens, rotated.get_json(), fresh):
        for token in (pair["access_token"], pair["refresh_token"]):
            secrets += [token, token.rsplit(".", 1)[1]]  # the token, and its signature alone
    secrets += [password_hash, password_hash[7:]]  # the hash, and without its "$2b$04$"

    captured = capfd.readouterr()
    logged = "\n".join([caplog.text, captured.out, captured.err])
    # Statements were logged, or this test would prove nothing.
    assert any("INSERT INTO users" in record.getMessage() for record in caplog.records)
    leaked = [secret for secret in secrets if secret in logged]
    assert leaked == []
