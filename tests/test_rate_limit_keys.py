"""No rate-limit key function raises, whatever the request; CORS exposes what clients read."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventbook import create_app, throttling
from eventbook.extensions import limiter
from tests.conftest import TEST_SETTINGS

KEY_FUNCTIONS = [
    throttling.client_address,
    throttling.client_address_and_email,
    throttling.login_email,
    throttling.caller,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"email": json_values}).map(lambda value: json.dumps(value).encode()),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.just(b"9" * 5000),
    st.just(b'{"email": "' + b"x" * (1024 * 1024 + 1) + b'"}'),
)
content_types = st.sampled_from(
    ["application/json", "text/plain", "application/json; charset=latin-1"]
)


@pytest.fixture(scope="module")
def app():
    return create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=content_types)
def test_no_key_function_raises_whatever_the_body(app, body, content_type):
    with app.test_request_context(
        "/auth/login", method="POST", data=body, content_type=content_type
    ):
        for key_function in KEY_FUNCTIONS:
            key = key_function()
            assert isinstance(key, str) and key


def test_an_unreadable_email_is_counted_per_address(app):
    with app.test_request_context(
        "/auth/login", method="POST", data=b"[" * 3000, content_type="application/json"
    ):
        assert throttling.login_email() == f"address:-:{throttling.UNREADABLE}"


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"email": "' + b"x" * (2 << 20) + b'"}'])
def test_a_malformed_login_body_never_switches_to_the_fallback(app, body, caplog):
    app.test_client().post("/auth/login", data=body, content_type="application/json")
    assert not limiter.storage_failed
    assert "storage unreachable" not in caplog.text


def test_cors_exposes_every_header_a_client_reads():
    app = create_app(
        {
            **TEST_SETTINGS,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "CORS_ORIGINS": ["https://a.example"],
        }
    )
    response = app.test_client().get("/health", headers={"Origin": "https://a.example"})
    exposed = {
        name.strip().lower()
        for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert exposed >= {
        "idempotent-replayed",
        "retry-after",
        "x-total-count",
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "etag",
        "x-next-cursor",
        "link",
    }
