import pytest

from eventbook.extensions import db
from eventbook.models import User
from tests.conftest import PASSWORD


def register(client, **overrides):
    body = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "password": "s3cret-pass",
        **overrides,
    }
    return client.post("/auth/register", json=body)


def login(client, email, password=PASSWORD):
    return client.post("/auth/login", json={"email": email, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_register_returns_the_user_without_secrets(client):
    response = register(client, email="Ada@Example.COM")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "name", "email", "created_at"}
    assert body["email"] == "ada@example.com"
    assert body["created_at"].endswith("+00:00")


def test_register_refuses_an_email_already_registered_in_any_case(client):
    register(client, email="ada@example.com")
    response = register(client, email=" ADA@example.com ")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": True,
        "message": "Email already registered",
        "status_code": 400,
    }


@pytest.mark.parametrize(
    "password, valid",
    [
        ("1234567", False),  # 7 bytes
        ("12345678", True),
        ("é" * 36, True),  # 72 bytes
        ("é" * 37, False),  # 74 bytes: more than bcrypt can hash
        ("a" * 80, False),
        ("pass\x00word1", False),
    ],
)
def test_register_bounds_the_password_in_utf8_bytes(client, password, valid):
    response = register(client, password=password)
    assert response.status_code == (201 if valid else 400)
    if not valid:
        assert "password" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"id": 7}, "id"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_register_rejects_invalid_input(client, overrides, field):
    response = register(client, **overrides)
    assert response.status_code == 400
    body = response.get_json()
    assert body["message"] == "Validation failed"
    assert field in body["errors"]


def test_login_returns_a_bearer_token_pair(client, make_user):
    user = make_user()
    response = login(client, user.email.upper())
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "email, password", [("user1@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)]
)
def test_login_gives_one_answer_for_unknown_email_and_wrong_password(
    client, make_user, email, password
):
    make_user()
    response = login(client, email, password)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": True,
        "message": "Invalid credentials",
        "status_code": 401,
    }


def test_me_returns_the_caller(client, make_user, auth_headers):
    user = make_user()
    response = client.get("/auth/me", headers=auth_headers(user))
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email


def test_refresh_rotates_the_refresh_token(client, make_user):
    tokens = login(client, make_user().email).get_json()
    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200
    fresh = response.get_json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert client.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    again = client.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 200


def test_an_access_token_is_not_a_refresh_token(client, make_user):
    tokens = login(client, make_user().email).get_json()
    response = client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.get_json() == {"error": True, "message": "Invalid token", "status_code": 401}


def test_a_refresh_token_is_not_an_access_token(client, make_user):
    tokens = login(client, make_user().email).get_json()
    response = client.get("/auth/me", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
def test_a_malformed_refresh_token_is_401(client, token):
    response = client.post("/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Invalid token"


def test_refresh_without_a_token_is_a_validation_error(client):
    response = client.post("/auth/refresh", json={})
    assert response.status_code == 400
    assert "refresh_token" in response.get_json()["errors"]


def test_logout_revokes_the_access_and_refresh_tokens(client, make_user):
    tokens = login(client, make_user().email).get_json()
    response = client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    refresh = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


def test_logout_also_revokes_the_refresh_token_it_is_given(client, make_user):
    user = make_user()
    first = login(client, user.email).get_json()
    second = login(client, user.email).get_json()
    response = client.post(
        "/auth/logout",
        headers=bearer(first["access_token"]),
        json={"refresh_token": second["refresh_token"]},
    )
    assert response.status_code == 204
    assert (
        client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 401
    )


def test_logout_with_another_users_refresh_token_ends_only_the_callers_login(client, make_user):
    mine = login(client, make_user().email).get_json()
    theirs = login(client, make_user().email).get_json()
    response = client.post(
        "/auth/logout",
        headers=bearer(mine["access_token"]),
        json={"refresh_token": theirs["refresh_token"]},
    )
    assert response.status_code == 204
    assert client.get("/auth/me", headers=bearer(mine["access_token"])).status_code == 401
    assert (
        client.post("/auth/refresh", json={"refresh_token": theirs["refresh_token"]}).status_code
        == 200
    )


def test_logout_needs_an_access_token(client):
    assert client.post("/auth/logout").status_code == 401


def test_the_tokens_of_a_deleted_user_are_401(app, client, make_user):
    user = make_user()
    tokens = login(client, user.email).get_json()
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.get_json()["error"] is True
