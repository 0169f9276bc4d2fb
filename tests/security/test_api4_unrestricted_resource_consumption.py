"""OWASP API4:2023 Unrestricted Resource Consumption.

Every size is bounded: pages, bodies, strings (passwords in bytes), ids.
Out-of-bounds input is a 4xx, never a 500 or a huge query.
"""

import pytest

from tests.security.writes import valid_writes, write_params

MIB = 1024 * 1024
TOO_BIG_INT = 2**31  # one more than the largest database INTEGER


@pytest.fixture
def organiser(make_user, make_event, auth_headers):
    user = make_user()
    return make_event(organizer_id=user.id), auth_headers(user)


@pytest.mark.parametrize(
    "query",
    [
        "/events?limit=0",
        "/events?limit=101",
        "/events?skip=-1",
        f"/events?skip={2**63}",
        "/events?limit=many",
        "/events/top-booked?limit=0",
        "/events/top-booked?limit=51",
        "/bookings/my?limit=101",
        "/bookings/my?skip=-1",
    ],
)
def test_page_sizes_and_offsets_are_bounded(client, make_user, auth_headers, query):
    response = client.get(query, headers=auth_headers(make_user()))
    assert response.status_code == 400
    assert response.get_json()["message"] == "Validation failed"


@write_params()
def test_every_body_is_capped_at_one_mebibyte(client, organiser, write):
    event, headers = organiser
    method, path, body = valid_writes(event.id)[write]
    padded = {**body, "padding": "x" * MIB}
    response = client.open(path, method=method, json=padded, headers=headers)
    assert response.status_code == 413
    assert response.get_json()["status_code"] == 413


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "/auth/register", {"name": "n" * 101}, "name"),
        ("POST", "/auth/register", {"email": "e" * 250 + "@example.com"}, "email"),
        ("POST", "/auth/register", {"password": "p" * 73}, "password"),
        ("POST", "/auth/register", {"password": "é" * 37}, "password"),  # 74 bytes
        ("POST", "/auth/login", {"password": "é" * 37}, "password"),
        ("POST", "/auth/password", {"current_password": "p" * 73}, "current_password"),
        ("POST", "/auth/password", {"new_password": "€" * 25}, "new_password"),  # 75 bytes
        ("POST", "/auth/refresh", {"refresh_token": "t" * 4097}, "refresh_token"),
        ("POST", "/events", {"title": "t" * 201}, "title"),
        ("POST", "/events", {"location": "l" * 256}, "location"),
        ("POST", "/events", {"description": "d" * 5001}, "description"),
        ("POST", "/events", {"image_url": "https://example.com/" + "i" * 500}, "image_url"),
        ("POST", "/events", {"total_slots": 1_000_001}, "total_slots"),
        ("PATCH", "/events/{event_id}", {"title": "t" * 201}, "title"),
    ],
)
def test_strings_and_numbers_are_bounded(client, organiser, method, path, body, field):
    event, headers = organiser
    response = client.open(
        path.format(event_id=event.id), method=method, json=body, headers=headers
    )
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "/auth/register", {"name": "a\x00b"}, "name"),
        ("POST", "/auth/register", {"password": "pass\x00word"}, "password"),
        ("POST", "/auth/login", {"email": "a\x00@example.com"}, "email"),
        ("POST", "/auth/password", {"new_password": "pass\x00word"}, "new_password"),
        ("POST", "/auth/refresh", {"refresh_token": "a\x00b"}, "refresh_token"),
        ("POST", "/events", {"title": "a\x00b"}, "title"),
        ("POST", "/events", {"location": "a\x00b"}, "location"),
        ("POST", "/events", {"description": "a\x00b"}, "description"),
        ("PATCH", "/events/{event_id}", {"title": "a\x00b"}, "title"),
    ],
)
def test_nul_characters_are_refused(client, organiser, method, path, body, field):
    event, headers = organiser
    response = client.open(
        path.format(event_id=event.id), method=method, json=body, headers=headers
    )
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_a_nul_character_in_a_query_is_refused(client):
    response = client.get("/events?q=a%00b")
    assert response.status_code == 400
    assert "q" in response.get_json()["errors"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("event_id", [TOO_BIG_INT, 10**20, 0, -1])
def test_event_ids_out_of_range_are_not_found(client, organiser, method, event_id):
    _, headers = organiser
    response = client.open(
        f"/events/{event_id}", method=method, json={"title": "x"}, headers=headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("booking_id", [TOO_BIG_INT, 10**20, 0])
def test_booking_ids_out_of_range_are_not_found(client, organiser, method, booking_id):
    _, headers = organiser
    response = client.open(f"/bookings/{booking_id}", method=method, headers=headers)
    assert response.status_code == 404


@pytest.mark.parametrize("event_id", [TOO_BIG_INT, 10**20, 0, -1, "1", 1.5, True])
def test_body_ids_out_of_range_or_type_are_400(client, organiser, event_id):
    _, headers = organiser
    response = client.post("/bookings", json={"event_id": event_id}, headers=headers)
    assert response.status_code == 400
    assert "event_id" in response.get_json()["errors"]


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_a_password_over_72_bytes_is_400_not_500(client, path):
    body = {"name": "N", "email": "long@example.com", "password": "x" * 80}
    if path == "/auth/login":
        del body["name"]
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert "password" in response.get_json()["errors"]
