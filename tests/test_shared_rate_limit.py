"""The booking limit holds across processes when they share Redis storage."""

import pytest

from tests.live import call, gunicorn

pytestmark = [pytest.mark.postgresql, pytest.mark.redis, pytest.mark.live]


@pytest.fixture
def database_url(migrated_postgresql_database):
    return migrated_postgresql_database


@pytest.mark.parametrize("storage", ["redis", "memory"])
def test_limits_hold_across_processes_only_with_shared_storage(
    app, database_url, redis_url, key_prefix, make_user, make_event, auth_headers, storage
):
    headers = auth_headers(make_user())
    event_ids = [make_event().id for _ in range(6)]
    environment = {
        "RATELIMIT_STORAGE_URI": redis_url if storage == "redis" else "memory://",
        "RATELIMIT_KEY_PREFIX": key_prefix,
        "BOOKING_RATE_LIMIT": "5 per minute",
    }
    with (
        gunicorn(database_url, **environment) as first,
        gunicorn(database_url, **environment) as second,
    ):
        statuses = [
            call("POST", f"{(first, second)[n % 2]}/bookings", {"event_id": event_ids[n]}, headers)[
                0
            ]
            for n in range(6)
        ]
    if storage == "redis":
        assert sorted(statuses) == [201] * 5 + [429]
    else:
        # The control: with per-process memory each process grants its own 5.
        assert statuses == [201] * 6
