"""/metrics: off without a token, closed to anyone without it, and under a
multi-worker gunicorn the sum of every worker's requests and bookings."""

import glob
import os
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventbook import create_app
from tests.conftest import TEST_SETTINGS, build_schema
from tests.live import call, gunicorn
from tests.test_cluster import attendees, create_event

TOKEN = "metrics-token-for-tests"


def samples(text):
    """Map (sample name, sorted labels) to value, from Prometheus' text format."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0)


@pytest.fixture
def settings(settings):
    return {**settings, "METRICS_TOKEN": TOKEN}


def scrape(client, token=TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def test_without_a_token_setting_there_is_no_metrics_endpoint():
    client = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).test_client()
    response = scrape(client, token="")
    assert response.status_code == 404
    assert response.get_json()["status_code"] == 404


@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_only_the_token_opens_the_metrics(client, sent):
    headers = {"Authorization": sent} if sent else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["message"] == "A valid metrics token is required"


def test_a_booking_shows_in_the_metrics(client, make_user, make_event, auth_headers):
    headers = auth_headers(make_user())
    event = make_event(total_slots=1)
    before = samples(scrape(client).get_data(as_text=True))
    assert client.post("/bookings", json={"event_id": event.id}, headers=headers).status_code == 201
    after = samples(scrape(client).get_data(as_text=True))
    labels = {"method": "POST", "route": "/bookings", "status": "201"}
    name = "eventbook_http_request_duration_seconds_count"
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    booked = ("eventbook_bookings_total", {"outcome": "booked"})
    assert value(after, booked[0], **booked[1]) - value(before, booked[0], **booked[1]) == 1


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.live
def test_two_workers_add_up_their_requests_and_bookings(
    fresh_postgresql_database, redis_url, key_prefix, tmp_path
):
    url = fresh_postgresql_database
    app = build_schema(url)
    full = create_event(app, total_slots=2)
    others = [create_event(app) for _ in range(4)]
    people = attendees(app, 4)
    metrics_directory = tmp_path / "metrics"
    environment = {
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_directory),
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": key_prefix,
        "BOOKING_RATE_LIMIT": "3 per minute",
        "GUNICORN_THREADS": "2",
    }
    with gunicorn(url, workers=2, **environment) as base:
        for _ in range(30):
            assert call("GET", f"{base}/health")[0] == 200
        assert call("GET", f"{base}/events/{full}")[0] == 200
        assert call("GET", f"{base}/no-such-page-{uuid.uuid4().hex}")[0] == 404
        booked = [call("POST", f"{base}/bookings", {"event_id": full}, h) for h in people[:3]]
        assert [status for status, _, _ in booked] == [201, 201, 400]
        # The fourth person: 3 bookings allowed per minute, the 4th refused.
        spree = [call("POST", f"{base}/bookings", {"event_id": e}, people[3]) for e in others]
        assert [status for status, _, _ in spree] == [201, 201, 201, 429]
        first = booked[0][1]["id"]
        assert call("DELETE", f"{base}/bookings/{first}", None, people[0])[0] == 204
        assert call("DELETE", f"{base}/bookings/{first}", None, people[1])[0] == 404
        status, _, _ = call("GET", f"{base}/metrics")
        assert status == 401
        status, text, _ = scrape_live(base)
        assert status == 200
    found = samples(text)
    writers = {os.path.basename(p).split("_")[-1] for p in glob.glob(f"{metrics_directory}/*")}
    assert len(writers) >= 2, "the requests should have reached both workers"

    def requests(method, route, status):
        name = "eventbook_http_request_duration_seconds_count"
        return value(found, name, method=method, route=route, status=status)

    assert requests("GET", "/health", "200") == 30 + 1  # and the start-up check
    assert requests("GET", "/events/<id:event_id>", "200") == 1
    assert requests("GET", "(unmatched)", "404") == 1
    assert requests("POST", "/bookings", "201") == 5
    assert requests("POST", "/bookings", "400") == 1
    assert requests("POST", "/bookings", "429") == 1
    assert requests("DELETE", "/bookings/<id:booking_id>", "204") == 1
    assert value(found, "eventbook_bookings_total", outcome="booked") == 5
    assert value(found, "eventbook_bookings_total", outcome="event_full") == 1
    assert value(found, "eventbook_bookings_total", outcome="rate_limited") == 1
    assert value(found, "eventbook_cancellations_total", outcome="cancelled") == 1
    assert value(found, "eventbook_cancellations_total", outcome="booking_not_found") == 1
    assert value(found, "eventbook_rate_limit_refusals_total", route="/bookings") == 1
    assert value(found, "eventbook_db_pool_connections_in_use") == 0
    assert value(found, "eventbook_db_pool_connections_open") >= 1
    assert value(found, "eventbook_db_pool_connections_limit") in (20, 40)  # 10 + 10 a worker


def scrape_live(base):
    request = urllib.request.Request(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(), response.headers
