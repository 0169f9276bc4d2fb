"""Every operation that takes a JSON body, with a valid body, for the security tests."""

import pytest

from tests.conftest import PASSWORD


def valid_writes(event_id, subscription_id=1):
    """Return (method, path, body) for each write, valid for the caller of `event_id`."""
    return [
        (
            "POST",
            "/auth/register",
            {"name": "Eve", "email": "eve@example.com", "password": "long-enough"},
        ),
        ("POST", "/auth/login", {"email": "user1@example.com", "password": PASSWORD}),
        ("POST", "/auth/refresh", {"refresh_token": "x"}),
        ("POST", "/auth/logout", {}),
        ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": "long-enough"}),
        (
            "POST",
            "/events",
            {
                "title": "T",
                "location": "L",
                "event_date": "2099-01-01T00:00:00+00:00",
                "total_slots": 5,
            },
        ),
        ("PATCH", f"/events/{event_id}", {"title": "T"}),
        ("POST", f"/events/{event_id}/cancel", {"reason": "Rain"}),
        ("POST", "/bookings", {"event_id": event_id, "hold": True}),
        ("POST", "/webhooks", {"url": "https://93.184.215.14/hook"}),
        ("PATCH", f"/webhooks/{subscription_id}", {"description": "d"}),
    ]


WRITE_NAMES = [
    f"{method} {path}" for method, path, _ in valid_writes("{event_id}", "{subscription_id}")
]


def write_params():
    return pytest.mark.parametrize("write", range(len(WRITE_NAMES)), ids=WRITE_NAMES)


def documented_writes(client):
    spec = client.get("/openapi.json").get_json()
    return {
        f"{method.upper()} {path}"
        for path, items in spec["paths"].items()
        for method, operation in items.items()
        if method != "parameters" and "requestBody" in operation
    }
