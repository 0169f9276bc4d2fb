"""Token lifecycle races on gunicorn and PostgreSQL, with real concurrency.

The password-change race runs on `tests/faulty_wsgi.py` with `login-pause`
(a pause between the password check and the writing of the login) so the
race is certain; its control adds `no-password-version`.
"""

import time
from collections import Counter

import pytest

from tests.cluster import in_parallel, instances
from tests.conftest import PASSWORD
from tests.live import call

pytestmark = [pytest.mark.postgresql, pytest.mark.live]

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def database_url(fresh_postgresql_database):
    return fresh_postgresql_database


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def logins_racing_a_password_change(url, email, access_token):
    """Log in 8 times with the old password while the owner changes it.

    :returns: the token pairs of the logins that were answered 200.
    """

    def log_in(delay):
        time.sleep(delay)
        return call("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})

    def change_password():
        time.sleep(0.1)
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        return call("POST", f"{url}/auth/password", body, bearer(access_token))

    jobs = [(log_in, 0.03 * n) for n in range(8)] + [(change_password, None)]
    results = in_parallel(lambda job, arg: job() if arg is None else job(arg), jobs)
    assert results[-1][0] == 204
    return [payload for status, payload, _ in results[:-1] if status == 200]


def still_working(url, logins):
    """Return the logins whose access token or refresh token still works."""
    return [
        pair
        for pair in logins
        if call("GET", f"{url}/auth/me", None, bearer(pair["access_token"]))[0] == 200
        or call("POST", f"{url}/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 200
    ]


def race(database_url, user, tokens, faults):
    environment = {"app": "tests.faulty_wsgi:app", "EVENTBOOK_TEST_FAULTS": faults}
    with instances(database_url, count=1, **environment) as [instance]:
        logins = logins_racing_a_password_change(instance.url, user.email, tokens["access_token"])
        survivors = still_working(instance.url, logins)
        after = call(
            "POST", f"{instance.url}/auth/login", {"email": user.email, "password": NEW_PASSWORD}
        )
    assert after[0] == 200
    return logins, survivors


def test_no_login_racing_a_password_change_survives_it(
    app, database_url, make_user, tokens_for, record_property
):
    user = make_user()
    logins, survivors = race(database_url, user, tokens_for(user), "login-pause")
    assert logins, "no login checked the old password: the race did not happen"
    assert survivors == []
    record_property("logins_with_old_password_answered", len(logins))


def test_control_without_password_versions_logins_survive(
    app, database_url, make_user, tokens_for, record_property
):
    user = make_user()
    logins, survivors = race(
        database_url, user, tokens_for(user), "login-pause,no-password-version"
    )
    assert survivors
    record_property("control_surviving_logins", f"{len(survivors)} of {len(logins)}")


def two_tabs_refreshing(database_url, tokens, interval):
    with instances(database_url, count=1, REFRESH_REUSE_INTERVAL_SECONDS=str(interval)) as [inst]:
        answers = in_parallel(
            lambda: call(
                "POST", f"{inst.url}/auth/refresh", {"refresh_token": tokens["refresh_token"]}
            ),
            [()] * 8,
        )
        pairs = [payload for status, payload, _ in answers if status == 200]
        working = [
            pair for pair in pairs
            if call("GET", f"{inst.url}/auth/me", None, bearer(pair["access_token"]))[0] == 200
        ]  # fmt: skip
        # Each tab goes on refreshing with the token it got.
        later = [
            call("POST", f"{inst.url}/auth/refresh", {"refresh_token": pair["refresh_token"]})[0]
            for pair in pairs[:1]
        ]
    return Counter(status for status, _, _ in answers), later, working


def test_eight_tabs_refreshing_one_token_at_once_all_stay_logged_in(
    app, database_url, make_user, tokens_for
):
    statuses, later, working = two_tabs_refreshing(database_url, tokens_for(make_user()), 10)
    assert statuses == {200: 8}
    assert len(working) == 8
    assert later == [200]


def test_control_without_a_reuse_interval_the_race_ends_the_login(
    app, database_url, make_user, tokens_for, record_property
):
    statuses, _, working = two_tabs_refreshing(database_url, tokens_for(make_user()), 0)
    assert statuses[401] >= 1 and working == []
    record_property("control_refresh_statuses", dict(statuses))
