"""OWASP API2:2023 Broken Authentication.

Every token that is not a valid, live access token is refused with the
uniform 401 body, and login does not tell registered emails apart.
"""

import warnings
from datetime import timedelta

import bcrypt
import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, decode_token
from jwt.warnings import InsecureKeyLengthWarning

from eventbook.extensions import db
from eventbook.models import User
from tests.conftest import PASSWORD

OTHER_KEY = "another-key-another-key-another-key-0123"

# Every operation that needs an access token, as a concrete request.
PROTECTED = [
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("POST", "/auth/password"),
    ("POST", "/events"),
    ("PATCH", "/events/{event_id}"),
    ("DELETE", "/events/{event_id}"),
    ("POST", "/events/{event_id}/publish"),
    ("POST", "/events/{event_id}/cancel"),
    ("POST", "/events/{event_id}/waitlist"),
    ("POST", "/bookings"),
    ("GET", "/bookings/my"),
    ("GET", "/bookings/{booking_id}"),
    ("DELETE", "/bookings/{booking_id}"),
    ("POST", "/bookings/{booking_id}/confirm"),
    ("GET", "/waitlist/my"),
    ("DELETE", "/waitlist/{entry_id}"),
    ("GET", "/changes"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{subscription_id}"),
    ("PATCH", "/webhooks/{subscription_id}"),
    ("DELETE", "/webhooks/{subscription_id}"),
    ("GET", "/webhooks/{subscription_id}/deliveries"),
    ("POST", "/webhooks/{subscription_id}/deliveries/{delivery_id}/retry"),
]


def login(client, user):
    return client.post("/auth/login", json={"email": user.email, "password": PASSWORD}).get_json()


def claims_of(app, token):
    with app.app_context():
        return decode_token(token)


def missing(app, client, user):
    return {}


def not_bearer(app, client, user):
    return {"Authorization": f"Token {login(client, user)['access_token']}"}


def garbage(app, client, user):
    return {"Authorization": "Bearer garbage"}


def alg_none(app, client, user):
    claims = claims_of(app, login(client, user)["access_token"])
    return {"Authorization": f"Bearer {pyjwt.encode(claims, None, algorithm='none')}"}


def another_key(app, client, user):
    claims = claims_of(app, login(client, user)["access_token"])
    return {"Authorization": f"Bearer {pyjwt.encode(claims, OTHER_KEY, algorithm='HS256')}"}


def another_algorithm(app, client, user):
    claims = claims_of(app, login(client, user)["access_token"])
    with warnings.catch_warnings():  # the test key is short for HS512; no matter here
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = pyjwt.encode(claims, app.config["SECRET_KEY"], algorithm="HS512")
    return {"Authorization": f"Bearer {token}"}


def expired(app, client, user):
    family = claims_of(app, login(client, user)["access_token"])["fam"]
    with app.app_context():
        token = create_access_token(
            # Past the leeway tolerated for clock differences (10 s).
            str(user.id),
            additional_claims={"fam": family},
            expires_delta=timedelta(seconds=-60),
        )
    return {"Authorization": f"Bearer {token}"}


def revoked(app, client, user):
    token = login(client, user)["access_token"]
    assert client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code
    return {"Authorization": f"Bearer {token}"}


def refresh_as_access(app, client, user):
    return {"Authorization": f"Bearer {login(client, user)['refresh_token']}"}


def of_a_deleted_user(app, client, user):
    token = login(client, user)["access_token"]
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


BAD_ACCESS = [
    missing,
    not_bearer,
    garbage,
    alg_none,
    another_key,
    another_algorithm,
    expired,
    revoked,
    refresh_as_access,
    of_a_deleted_user,
]


def assert_uniform_401(response):
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"error", "message", "status_code"}
    assert body["error"] is True and body["status_code"] == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def needs_token(operation):
    """Whether an operation's security requires a token (`{}` makes it optional)."""
    security = operation.get("security") or []
    return bool(security) and {} not in security


def test_every_operation_that_needs_a_token_is_listed(client):
    spec = client.get("/openapi.json").get_json()
    secured = {
        (method.upper(), path)
        for path, items in spec["paths"].items()
        for method, operation in items.items()
        if method != "parameters" and needs_token(operation)
    }
    assert secured == set(PROTECTED)


@pytest.mark.parametrize("method, path", PROTECTED)
def test_every_protected_operation_refuses_a_request_without_a_token(client, method, path):
    response = client.open(
        path.format(event_id=1, booking_id=1, entry_id=1, subscription_id=1, delivery_id=1),
        method=method,
        json={},
    )
    assert_uniform_401(response)


@pytest.mark.parametrize("make_headers", BAD_ACCESS)
def test_a_bad_access_token_is_401(app, client, make_user, make_headers):
    headers = make_headers(app, client, make_user())
    assert_uniform_401(client.get("/auth/me", headers=headers))


def access_as_refresh(client, user):
    return login(client, user)["access_token"]


def rotated_refresh(client, user):
    """A refresh token replaced two rotations ago: no reuse interval covers it."""
    token = login(client, user)["refresh_token"]
    response = client.post("/auth/refresh", json={"refresh_token": token})
    newer = response.get_json()["refresh_token"]
    assert client.post("/auth/refresh", json={"refresh_token": newer}).status_code == 200
    return token


def refresh_signed_with_another_key(client, user):
    claims = pyjwt.decode(login(client, user)["refresh_token"], options={"verify_signature": False})
    return pyjwt.encode(claims, OTHER_KEY, algorithm="HS256")


def refresh_with_alg_none(client, user):
    claims = pyjwt.decode(login(client, user)["refresh_token"], options={"verify_signature": False})
    return pyjwt.encode(claims, None, algorithm="none")


def refresh_after_logout(client, user):
    tokens = login(client, user)
    client.post("/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return tokens["refresh_token"]


@pytest.mark.parametrize(
    "make_token",
    [
        access_as_refresh,
        rotated_refresh,
        refresh_signed_with_another_key,
        refresh_with_alg_none,
        refresh_after_logout,
    ],
)
def test_a_bad_refresh_token_is_401(client, make_user, make_token):
    token = make_token(client, make_user())
    assert_uniform_401(client.post("/auth/refresh", json={"refresh_token": token}))


def test_a_reused_refresh_token_revokes_its_login(app, client, make_user):
    app.config["REFRESH_REUSE_INTERVAL_SECONDS"] = 0  # reuse detection at its strictest
    tokens = login(client, make_user())
    fresh = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_uniform_401(
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    )
    fresh = fresh.get_json()
    assert_uniform_401(
        client.get("/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    )
    assert_uniform_401(client.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]}))


@pytest.fixture
def bcrypt_checks(monkeypatch):
    """Record the hashes bcrypt checks a password against; the real check still runs."""
    checked = []
    real_checkpw = bcrypt.checkpw

    def checkpw(password, hashed):
        checked.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    return checked


@pytest.mark.parametrize("email", ["nobody@example.com", "registered@example.com"])
def test_login_checks_one_bcrypt_hash_of_the_configured_cost_for_any_email(
    app, client, make_user, bcrypt_checks, email
):
    make_user(email="registered@example.com")
    response = client.post("/auth/login", json={"email": email, "password": "wrong-password"})
    assert response.status_code == 401
    assert response.get_json() == {
        "error": True,
        "message": "Invalid credentials",
        "status_code": 401,
    }
    # Same work for an unknown email as for a wrong password: one check
    # against a hash of the same cost, so the time reveals nothing.
    [hashed] = bcrypt_checks
    assert hashed.startswith(b"$2b$%02d$" % app.config["BCRYPT_ROUNDS"])
