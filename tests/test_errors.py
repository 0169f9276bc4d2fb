"""Every failure answers with the one error body, and every response has a request id."""

from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from eventbook import create_app
from tests.conftest import TEST_SETTINGS


def error(status, message, **extra):
    return {"error": True, "message": message, "status_code": status, **extra}


def test_unknown_route_is_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json() == error(404, "Not found")


def test_wrong_method_is_405_and_says_what_is_allowed(client):
    response = client.put("/events")
    assert response.status_code == 405
    assert response.get_json() == error(405, "Method not allowed")
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


def test_invalid_json_is_400(client):
    response = client.post("/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == error(400, "The request body is not valid JSON")


def test_a_body_that_is_not_json_is_415(client):
    response = client.post("/auth/login", data="email=a&password=b")
    assert response.status_code == 415
    assert response.get_json() == error(
        415, "The request body must be JSON (Content-Type: application/json)"
    )


def test_a_json_value_that_is_not_an_object_is_a_validation_error(client):
    response = client.post("/auth/login", json=["a", "b"])
    assert response.status_code == 400
    assert response.get_json() == error(
        400, "Validation failed", errors={"_schema": ["Invalid input type."]}
    )


def test_an_oversized_body_is_413(client):
    response = client.post("/auth/register", json={"name": "x" * (1024 * 1024)})
    assert response.status_code == 413
    assert response.get_json() == error(413, "The request body is too large (limit: 1 MiB)")


def test_validation_errors_list_the_fields(client):
    response = client.post("/auth/register", json={"email": "nope", "extra": 1})
    assert response.status_code == 400
    assert response.get_json() == error(
        400,
        "Validation failed",
        errors={
            "email": ["Not a valid email address."],
            "extra": ["Unknown field."],
            "name": ["Missing data for required field."],
            "password": ["Missing data for required field."],
        },
    )


def test_a_missing_token_is_401(client):
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.get_json() == error(
        401, "Authentication required: send an 'Authorization: Bearer <access token>' header"
    )
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_401(app, client, make_user, tokens_for):
    user = make_user()
    tokens_for(user)
    with app.app_context():
        # Past the leeway tolerated for clock differences (10 s).
        token = create_access_token(str(user.id), expires_delta=timedelta(seconds=-60))
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json() == error(401, "Token has expired")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        pyjwt.encode(
            {"sub": "1", "type": "access"}, "another-key-another-key-another-key", algorithm="HS256"
        ),
        pyjwt.encode({"sub": "1", "type": "access"}, None, algorithm="none"),
    ],
)
def test_a_forged_or_malformed_token_is_401(client, token):
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json() == error(401, "Invalid token")


def test_a_crash_is_500_without_a_trace_and_is_logged_with_the_request_id(settings, caplog):
    app = create_app(settings)

    @app.get("/crash")
    def crash():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/crash", headers={"X-Request-ID": "crash-42"})
    assert response.status_code == 500
    assert response.get_json() == error(500, "Internal server error")
    assert b"secret internals" not in response.data and b"Traceback" not in response.data
    assert response.headers["X-Request-ID"] == "crash-42"
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.request_id == "crash-42" and "secret internals" in caplog.text


def test_an_unreachable_database_is_503():
    app = create_app(
        {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"}
    )
    response = app.test_client().get("/events")
    assert response.status_code == 503
    assert response.get_json() == error(503, "Service temporarily unavailable")
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("path", ["/", "/events", "/nowhere", "/auth/me"])
def test_every_response_has_a_request_id(client, path):
    assert len(client.get(path).headers["X-Request-ID"]) == 32


def test_a_sane_incoming_request_id_is_kept(client):
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )


@pytest.mark.parametrize("incoming", ["", "x" * 200, "bad id", "evil\u00e9"])
def test_an_odd_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/health", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32
