"""Webhook subscriptions: POST/GET/PATCH/DELETE /webhooks, and the targets they may name."""

import ipaddress
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventbook.extensions import db
from eventbook.webhooks import signing
from eventbook.webhooks.changes import CHANGE_TYPES
from eventbook.webhooks.models import WebhookSubscription
from eventbook.webhooks.targets import is_public_address

PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address: no name to resolve


@pytest.fixture
def owner(make_user, auth_headers):
    user = make_user()
    return user, auth_headers(user)


def subscribe(client, headers, **body):
    return client.post("/webhooks", json={"url": PUBLIC_URL, **body}, headers=headers)


def test_a_subscription_shows_its_secret_once(client, owner):
    _, headers = owner
    created = subscribe(client, headers, description="CRM")
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"id", "url", "events", "description", "active", "created_at", "secret"}
    assert body["secret"].startswith("whsec_")
    assert len(signing.base64.b64decode(body["secret"][6:])) == 32
    assert body["events"] == list(CHANGE_TYPES) and body["active"] is True
    shown = client.get(f"/webhooks/{body['id']}", headers=headers).get_json()
    listed = client.get("/webhooks", headers=headers).get_json()
    assert "secret" not in shown and listed == [shown]


def test_the_secret_is_stored_encrypted(app, client, owner):
    _, headers = owner
    body = subscribe(client, headers).get_json()
    with app.app_context():
        stored = db.session.get(WebhookSubscription, body["id"]).secret_encrypted
        assert body["secret"] not in stored and body["secret"][6:] not in stored
        assert signing.decrypt_secret(stored) == body["secret"]
        app.config["SECRET_KEY"] = "another-secret-key-0123456789abcdef0123456789"
        with pytest.raises(signing.SecretUnreadable):
            signing.decrypt_secret(stored)


def test_events_filter_takes_every_change_type(client, owner):
    _, headers = owner
    body = subscribe(client, headers, events=list(CHANGE_TYPES)).get_json()
    assert body["events"] == list(CHANGE_TYPES)


@pytest.mark.parametrize(
    "events", [[], ["booking.teleported"], ["booking.confirmed", "booking.confirmed"], "all"]
)
def test_bad_events_are_refused(client, owner, events):
    _, headers = owner
    response = subscribe(client, headers, events=events)
    assert response.status_code == 400
    assert any(field.startswith("events") for field in response.get_json()["errors"])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/",
        "javascript:alert(1)",
        "https://",
        "/relative",
        "https://user:pw@93.184.215.14/",
        "https://93.184.215.14:99999/",
        "https://93.184.215.14/a b",
        "https://93.184.215.14/\x00",
        "https://93.184.215.14/" + "a" * 2000,
    ],
)
def test_malformed_urls_are_refused(client, owner, url):
    _, headers = owner
    response = subscribe(client, headers, url=url)
    assert response.status_code == 400 and "url" in response.get_json()["errors"]


PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://localhost:6379/",
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_targets_are_refused(client, owner, url):
    _, headers = owner
    response = subscribe(client, headers, url=url)
    assert response.status_code == 400
    assert "public addresses only" in response.get_json()["message"]
    assert client.get("/webhooks", headers=headers).get_json() == []


@pytest.mark.parametrize("url", PRIVATE_URLS[:3])
def test_private_targets_are_allowed_when_configured(app, client, owner, url):
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    _, headers = owner
    assert subscribe(client, headers, url=url).status_code == 201


def test_changing_the_url_is_checked_too(client, owner):
    _, headers = owner
    created = subscribe(client, headers).get_json()
    response = client.patch(
        f"/webhooks/{created['id']}", json={"url": "http://10.0.0.1/"}, headers=headers
    )
    assert response.status_code == 400


def test_a_host_that_does_not_resolve_is_accepted(client, owner):
    _, headers = owner
    response = subscribe(client, headers, url="https://hooks.example.invalid/x")
    assert response.status_code == 201


PRIVATE_NETWORKS = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]


@st.composite
def private_addresses(draw):
    network = ipaddress.ip_network(draw(st.sampled_from(PRIVATE_NETWORKS)))
    address = network[draw(st.integers(0, network.num_addresses - 1))]
    wrap = draw(st.sampled_from(["plain", "mapped", "nat64"]))
    if address.version == 4 and wrap == "mapped":
        return ipaddress.ip_address(f"::ffff:{address}")
    if address.version == 4 and wrap == "nat64":
        return ipaddress.ip_address(int(ipaddress.ip_address("64:ff9b::")) + int(address))
    return address


@given(private_addresses())
def test_no_private_address_counts_as_public(address):
    assert not is_public_address(str(address))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=private_addresses())
def test_no_private_address_is_accepted_as_a_target(client, owner, address):
    _, headers = owner
    host = f"[{address}]" if address.version == 6 else str(address)
    assert subscribe(client, headers, url=f"http://{host}/hook").status_code == 400


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_count_as_public(address):
    assert is_public_address(address)


def test_a_name_resolving_to_a_private_address_is_refused(client, owner, monkeypatch):
    """Any one private address among a name's answers refuses it."""
    _, headers = owner
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "mixed.example.test":
            public = real("93.184.215.14", *args, **kwargs)
            private = real("10.0.0.7", *args, **kwargs)
            return public + private
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    response = subscribe(client, headers, url="https://mixed.example.test/hook")
    assert response.status_code == 400 and "10.0.0.7" in response.get_json()["message"]


def test_others_cannot_see_or_change_a_subscription(client, owner, make_user, auth_headers):
    _, headers = owner
    created = subscribe(client, headers).get_json()
    stranger = auth_headers(make_user())
    path = f"/webhooks/{created['id']}"
    assert client.get(path, headers=stranger).status_code == 404
    assert client.patch(path, json={"active": False}, headers=stranger).status_code == 404
    assert client.delete(path, headers=stranger).status_code == 404
    assert client.get(f"{path}/deliveries", headers=stranger).status_code == 404
    assert client.post(f"{path}/deliveries/1/retry", headers=stranger).status_code == 404
    assert client.get("/webhooks", headers=stranger).get_json() == []
    assert client.get(path, headers=headers).get_json()["active"] is True


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/webhooks"),
        ("post", "/webhooks"),
        ("get", "/webhooks/1"),
        ("patch", "/webhooks/1"),
        ("delete", "/webhooks/1"),
        ("get", "/webhooks/1/deliveries"),
        ("post", "/webhooks/1/deliveries/1/retry"),
    ],
)
def test_every_webhook_operation_needs_a_token(client, method, path):
    assert getattr(client, method)(path).status_code == 401


def test_update_and_delete(client, owner):
    _, headers = owner
    created = subscribe(client, headers).get_json()
    path = f"/webhooks/{created['id']}"
    changed = client.patch(
        path,
        json={"events": ["booking.cancelled"], "description": "x", "active": False},
        headers=headers,
    ).get_json()
    assert (changed["events"], changed["description"], changed["active"]) == (
        ["booking.cancelled"],
        "x",
        False,
    )
    assert client.patch(path, json={}, headers=headers).status_code == 400
    assert client.patch(path, json={"secret": "x"}, headers=headers).status_code == 400
    assert client.delete(path, headers=headers).status_code == 204
    assert client.get(path, headers=headers).status_code == 404
