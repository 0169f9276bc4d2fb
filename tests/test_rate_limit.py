"""The per-user booking limit, in one process."""

import pytest
from limits import parse

from eventbook import create_app
from eventbook.errors import describe_limit
from eventbook.limiter import WINDOW_RESET_HEADER


@pytest.fixture
def settings(settings):
    return {**settings, "BOOKING_RATE_LIMIT": "5 per minute"}


def book(client, headers, event_id):
    return client.post("/bookings", json={"event_id": event_id}, headers=headers)


def test_the_sixth_booking_request_in_a_minute_is_429(client, make_user, auth_headers, make_event):
    headers = auth_headers(make_user())
    statuses = [book(client, headers, make_event().id).status_code for _ in range(5)]
    assert statuses == [201] * 5
    response = book(client, headers, make_event().id)
    assert response.status_code == 429
    assert response.get_json() == {
        "error": True,
        "message": "Too many requests: the limit is 5 per minute",
        "status_code": 429,
    }
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_every_request_counts_even_refused_ones(client, make_user, auth_headers):
    headers = auth_headers(make_user())
    assert [book(client, headers, 999).status_code for _ in range(5)] == [404] * 5
    assert book(client, headers, 999).status_code == 429


def test_the_limit_is_per_user(client, make_user, auth_headers, make_event):
    event = make_event()
    greedy = auth_headers(make_user())
    for _ in range(6):
        book(client, greedy, event.id)
    assert book(client, auth_headers(make_user()), event.id).status_code == 201


def test_limit_headers_are_sent_on_success(client, make_user, auth_headers, make_event):
    response = book(client, auth_headers(make_user()), make_event().id)
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "4"
    assert "Retry-After" not in response.headers  # only a 429 asks to wait
    assert WINDOW_RESET_HEADER not in response.headers  # Flask-Limiter's own stays inside


@pytest.mark.parametrize(
    "setting, said",
    [
        ("5 per minute", "5 per minute"),
        ("5/minute", "5 per minute"),
        ("10 per 15 minutes", "10 per 15 minutes"),
        ("30 per 1 hour", "30 per hour"),
        ("2 per 3 days", "2 per 3 days"),
        ("1 per second", "1 per second"),
    ],
)
def test_a_limit_is_said_as_the_settings_write_it(setting, said):
    assert describe_limit(parse(setting)) == said


@pytest.mark.parametrize(
    "first_settings",
    [
        {"RATELIMIT_ENABLED": False},
        {"RATELIMIT_HEADERS_ENABLED": False},
        {"RATELIMIT_ENABLED": False, "RATELIMIT_HEADERS_ENABLED": False},
    ],
)
def test_each_application_keeps_its_own_limiter_settings(
    settings, make_user, auth_headers, make_event, first_settings
):
    """One limiter serves every application of a process (tests, the benchmark):
    an earlier application's settings must not become the next one's."""
    enabled = first_settings.get("RATELIMIT_ENABLED", True)
    with_headers = first_settings.get("RATELIMIT_HEADERS_ENABLED", True)
    for app_settings, expect_limit, expect_headers in (
        ({**settings, **first_settings}, enabled, enabled and with_headers),
        (settings, True, True),
    ):
        client = create_app(app_settings).test_client()
        headers = auth_headers(make_user())
        responses = [book(client, headers, make_event().id) for _ in range(6)]
        statuses = [response.status_code for response in responses]
        assert statuses == [201] * 5 + [429 if expect_limit else 201]
        assert ("X-RateLimit-Remaining" in responses[0].headers) == expect_headers
