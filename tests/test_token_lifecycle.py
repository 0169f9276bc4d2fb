"""Tokens end when they should: password changes racing logins, two tabs refreshing
at once, clock skew, the bearer scheme in any case, logout with a foreign token."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from eventbook.auth import operations
from eventbook.auth.tokens import issue_tokens
from eventbook.extensions import db
from eventbook.models import User
from tests.conftest import PASSWORD

REUSE_INTERVAL = 1


@pytest.fixture
def settings(settings):
    return {**settings, "REFRESH_REUSE_INTERVAL_SECONDS": REUSE_INTERVAL}


def refresh(client, token):
    return client.post("/auth/refresh", json={"refresh_token": token})


def me(client, access_token, scheme="Bearer"):
    return client.get("/auth/me", headers={"Authorization": f"{scheme} {access_token}"})


def test_a_rotated_refresh_token_within_the_interval_gets_the_logins_current_pair(
    client, make_user, tokens_for
):
    tokens = tokens_for(make_user())
    first_tab = refresh(client, tokens["refresh_token"]).get_json()
    second_tab = refresh(client, tokens["refresh_token"])
    assert second_tab.status_code == 200
    second_tab = second_tab.get_json()
    for pair in (first_tab, second_tab):
        assert me(client, pair["access_token"]).status_code == 200
    # Both tabs hold the login's one current refresh token; either may use it.
    assert refresh(client, second_tab["refresh_token"]).status_code == 200


def test_a_rotated_refresh_token_after_the_interval_revokes_its_login(
    client, make_user, tokens_for
):
    tokens = tokens_for(make_user())
    fresh = refresh(client, tokens["refresh_token"]).get_json()
    time.sleep(REUSE_INTERVAL + 0.5)
    replay = refresh(client, tokens["refresh_token"])
    assert replay.status_code == 401
    assert replay.get_json()["message"] == "Token has been revoked"
    assert me(client, fresh["access_token"]).status_code == 401
    assert refresh(client, fresh["refresh_token"]).status_code == 401


def test_an_interval_of_zero_turns_the_reuse_answer_off(app, client, make_user, tokens_for):
    app.config["REFRESH_REUSE_INTERVAL_SECONDS"] = 0
    user = make_user()
    tokens, other_login = tokens_for(user), tokens_for(user)
    fresh = refresh(client, tokens["refresh_token"]).get_json()
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    assert me(client, fresh["access_token"]).status_code == 401
    # Only that login ends.
    assert me(client, other_login["access_token"]).status_code == 200


def test_only_the_token_just_replaced_is_answered_again(client, make_user, tokens_for):
    tokens = tokens_for(make_user())
    second = refresh(client, tokens["refresh_token"]).get_json()
    refresh(client, second["refresh_token"])
    # The first token was replaced two rotations ago: that is reuse.
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    assert me(client, second["access_token"]).status_code == 401


def test_a_login_that_checked_the_old_password_is_over_once_it_changed(app, client, make_user):
    user = make_user()
    with app.app_context():
        # The login read the user (and checked the password) before the change...
        stale = db.session.get(User, user.id)
        db.session.expunge(stale)
        changed = db.session.get(User, user.id)
        operations.change_password(changed, PASSWORD, "a-brand-new-passphrase")
        db.session.commit()
        # ... and writes its tokens after it.
        late_login = issue_tokens(stale)
        db.session.commit()
    assert me(client, late_login["access_token"]).status_code == 401
    assert refresh(client, late_login["refresh_token"]).status_code == 401


def forged_access_token(app, user_id, family_id, issued_in_seconds):
    """An access token signed with the app's key, issued by a host whose clock is ahead."""
    issued = datetime.now(UTC) + timedelta(seconds=issued_in_seconds)
    claims = {
        "sub": str(user_id),
        "fam": family_id,
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + timedelta(minutes=15),
    }
    return jwt.encode(claims, app.config["SECRET_KEY"], algorithm="HS256")


@pytest.mark.parametrize("ahead, status", [(1, 200), (5, 200), (120, 401)])
def test_a_token_from_a_host_whose_clock_is_slightly_ahead_is_accepted(
    app, client, make_user, tokens_for, ahead, status
):
    user = make_user()
    family = jwt.decode(tokens_for(user)["access_token"], options={"verify_signature": False})[
        "fam"
    ]
    token = forged_access_token(app, user.id, family, ahead)
    assert me(client, token).status_code == status


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_bearer_scheme_is_accepted_in_any_case(client, make_user, tokens_for, scheme):
    tokens = tokens_for(make_user())
    assert me(client, tokens["access_token"], scheme=scheme).status_code == 200


@pytest.mark.parametrize("scheme", ["Basic", "Bearerx", "Token"])
def test_other_schemes_are_refused(client, make_user, tokens_for, scheme):
    tokens = tokens_for(make_user())
    assert me(client, tokens["access_token"], scheme=scheme).status_code == 401


@pytest.mark.parametrize(
    "refresh_token", ["not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "x" * 4000]
)
def test_logout_with_a_malformed_refresh_token_still_ends_the_callers_login(
    client, make_user, tokens_for, refresh_token
):
    user = make_user()
    mine, other_login = tokens_for(user), tokens_for(user)
    response = client.post(
        "/auth/logout",
        json={"refresh_token": refresh_token},
        headers={"Authorization": f"Bearer {mine['access_token']}"},
    )
    assert response.status_code == 204
    assert me(client, mine["access_token"]).status_code == 401
    assert refresh(client, mine["refresh_token"]).status_code == 401
    assert me(client, other_login["access_token"]).status_code == 200


def test_logout_with_a_refresh_token_of_another_own_login_ends_both(client, make_user, tokens_for):
    user = make_user()
    mine, other_login = tokens_for(user), tokens_for(user)
    response = client.post(
        "/auth/logout",
        json={"refresh_token": other_login["refresh_token"]},
        headers={"Authorization": f"Bearer {mine['access_token']}"},
    )
    assert response.status_code == 204
    assert me(client, other_login["access_token"]).status_code == 401
