"""OWASP API7:2023 Server Side Request Forgery.

An event's image_url is checked (http or https, at most 500 characters) and
stored; the server never fetches it. While these requests run, every
outbound connection or name lookup made from Python fails the test.
"""

import socket

import pytest

URLS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.1:6379/",
    "http://localhost:5432/",
    "http://internal.service.invalid/admin",
    "https://picsum.photos/seed/ssrf/800/600",
]


@pytest.fixture
def no_outbound_connections(monkeypatch):
    """Fail, and record, any connection or lookup made through Python's socket module.

    The databases need none: SQLite is a file, and psycopg2 connects from C.
    """
    attempts = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append((name, args[1:] if name == "connect" else args))
            raise OSError(f"outbound network access during the test: {name}{args}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


@pytest.mark.parametrize("url", URLS)
def test_an_image_url_is_stored_and_never_fetched(
    client, make_user, auth_headers, no_outbound_connections, url
):
    headers = auth_headers(make_user())
    created = client.post(
        "/events",
        json={
            "title": "T",
            "location": "L",
            "event_date": "2099-01-01T00:00:00+00:00",
            "total_slots": 5,
            "image_url": url,
        },
        headers=headers,
    )
    assert created.status_code == 201
    event_id = created.get_json()["id"]
    changed = client.patch(f"/events/{event_id}", json={"image_url": url}, headers=headers)
    assert changed.status_code == 200
    assert client.get(f"/events/{event_id}").get_json()["image_url"] == url
    assert client.get("/events").status_code == 200
    assert no_outbound_connections == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://example.com/image.png",
        "javascript:alert(1)",
        "dict://127.0.0.1:11211/stat",
        "//example.com/image.png",
        "https://example.com/" + "a" * 500,
    ],
)
def test_an_image_url_that_is_not_short_http_or_https_is_refused(
    client, make_user, auth_headers, url
):
    response = client.post(
        "/events",
        json={
            "title": "T",
            "location": "L",
            "event_date": "2099-01-01T00:00:00+00:00",
            "total_slots": 5,
            "image_url": url,
        },
        headers=auth_headers(make_user()),
    )
    assert response.status_code == 400
    assert "image_url" in response.get_json()["errors"]
