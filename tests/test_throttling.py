"""Login, registration, refresh and password-change throttling, at their real defaults."""

import uuid

import pytest
import redis

from config import RATE_LIMIT_DEFAULTS
from eventbook import create_app
from tests.conftest import PASSWORD

FAILED_LOGINS = "Too many failed login attempts; try again later"


@pytest.fixture
def settings(settings):
    return {**settings, **RATE_LIMIT_DEFAULTS}


def login(client, email, password="wrong-password", address="192.0.2.1", headers=None):
    return client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def fail_logins(client, email, times, **kwargs):
    return [login(client, email, **kwargs).status_code for _ in range(times)]


def test_the_defaults_are_the_documented_ones():
    assert RATE_LIMIT_DEFAULTS == {
        "BOOKING_RATE_LIMIT": "5 per minute",
        "LOGIN_RATE_LIMIT": "10 per 15 minutes",
        "LOGIN_ADDRESS_RATE_LIMIT": "50 per 15 minutes",
        "REGISTER_RATE_LIMIT": "30 per hour",
        "REFRESH_RATE_LIMIT": "60 per minute",
        "LOGIN_ACCOUNT_RATE_LIMIT": "30 per 10 minutes",
        "EVENT_CREATE_RATE_LIMIT": "50 per hour",
    }


def test_the_eleventh_failed_login_for_one_email_from_one_address_is_429(client, make_user):
    user = make_user()
    assert fail_logins(client, user.email, 10) == [401] * 10
    response = login(client, user.email)
    assert response.status_code == 429
    assert response.get_json() == {"error": True, "message": FAILED_LOGINS, "status_code": 429}
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    # Throttled means throttled: the right password does not get through either.
    assert login(client, user.email, PASSWORD).status_code == 429


def test_the_email_is_counted_as_the_login_reads_it(client, make_user):
    user = make_user()
    for variant in (user.email, user.email.upper(), f"  {user.email} ") * 4:
        login(client, variant)
    assert login(client, user.email).status_code == 429


def test_successful_logins_do_not_count(client, make_user):
    user = make_user()
    assert fail_logins(client, user.email, 9) == [401] * 9
    assert fail_logins(client, user.email, 5, password=PASSWORD) == [200] * 5
    assert login(client, user.email).status_code == 401
    assert login(client, user.email).status_code == 429


def test_invalid_login_requests_do_not_count(client, make_user):
    user = make_user()
    for _ in range(12):
        client.post(
            "/auth/login", json={"email": user.email}, environ_base={"REMOTE_ADDR": "1.2.3.4"}
        )
    assert login(client, user.email, address="1.2.3.4").status_code == 401


def test_another_email_or_address_is_counted_apart(client, make_user):
    user, other = make_user(), make_user()
    fail_logins(client, user.email, 10)
    assert login(client, other.email).status_code == 401
    assert login(client, user.email, address="198.51.100.7").status_code == 401


def test_the_fifty_first_failed_login_from_one_address_is_429_whatever_the_email(client):
    statuses = [login(client, f"nobody{n}@example.com").status_code for n in range(50)]
    assert statuses == [401] * 50
    response = login(client, "someone-else@example.com")
    assert response.status_code == 429
    assert response.get_json()["message"] == FAILED_LOGINS
    assert login(client, "someone-else@example.com", address="198.51.100.7").status_code == 401


@pytest.mark.parametrize("trusted_proxies, spoof_counts", [(0, False), (1, True)])
def test_x_forwarded_for_changes_the_key_only_behind_trusted_proxies(
    settings, make_user, trusted_proxies, spoof_counts
):
    app = create_app({**settings, "TRUSTED_PROXIES": trusted_proxies})
    client = app.test_client()
    user = make_user()
    for n in range(10):
        login(client, user.email, headers={"X-Forwarded-For": f"203.0.113.{n}"})
    response = login(client, user.email, headers={"X-Forwarded-For": "203.0.113.99"})
    # Behind a trusted proxy the header names the client, so a new address is
    # a new client; without one the header is the client's own claim, ignored.
    assert response.status_code == (401 if spoof_counts else 429)


def test_registration_is_limited_per_address_and_every_request_counts(client):
    statuses = [
        client.post(
            "/auth/register",
            json={"name": "N", "email": f"new{n % 3}@example.com", "password": "long-enough"},
        ).status_code
        for n in range(30)
    ]
    assert statuses[:3] == [201] * 3 and set(statuses[3:]) == {400}
    response = client.post(
        "/auth/register",
        json={"name": "N", "email": "late@example.com", "password": "long-enough"},
    )
    assert response.status_code == 429
    assert response.get_json()["message"] == "Too many requests: the limit is 30 per 1 hour"
    assert "Retry-After" in response.headers
    other = client.post(
        "/auth/register",
        json={"name": "N", "email": "late@example.com", "password": "long-enough"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 201


def test_refresh_is_limited_per_address(client):
    statuses = [
        client.post("/auth/refresh", json={"refresh_token": "not-a-token"}).status_code
        for _ in range(60)
    ]
    assert statuses == [401] * 60
    response = client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_refused_password_changes_are_limited_per_user(client, make_user, auth_headers):
    user = make_user()
    headers = auth_headers(user)
    body = {"current_password": "wrong-password", "new_password": "a-new-passphrase"}
    statuses = [
        client.post("/auth/password", json=body, headers=headers).status_code for _ in range(10)
    ]
    assert statuses == [400] * 10
    right = {"current_password": PASSWORD, "new_password": "a-new-passphrase"}
    response = client.post("/auth/password", json=right, headers=headers)
    assert response.status_code == 429
    assert response.get_json()["message"] == "Too many failed password changes; try again later"


@pytest.fixture
def redis_address(redis_url):
    """A client address of this test's own, so its Redis keys are known and removed."""
    address = f"test-{uuid.uuid4().hex}"
    yield address
    connection = redis.Redis.from_url(redis_url)
    for key in connection.scan_iter(f"*{address}*"):
        connection.delete(key)


@pytest.mark.redis
def test_failed_logins_are_counted_in_redis_too(
    settings, redis_url, key_prefix, redis_address, make_user
):
    redis_settings = {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": key_prefix}
    client = create_app({**settings, **redis_settings}).test_client()
    user = make_user()
    assert fail_logins(client, user.email, 9, address=redis_address) == [401] * 9
    assert login(client, user.email, PASSWORD, address=redis_address).status_code == 200
    assert login(client, user.email, address=redis_address).status_code == 401
    assert login(client, user.email, address=redis_address).status_code == 429
