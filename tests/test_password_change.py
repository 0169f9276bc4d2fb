"""POST /auth/password, and what a password change does to the user's tokens."""

import pytest

from eventbook.auth.operations import WrongPassword, change_password
from eventbook.extensions import db
from eventbook.models import TokenFamily, User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, email, password=PASSWORD):
    return client.post("/auth/login", json={"email": email, "password": password})


def change(client, token, current=PASSWORD, new=NEW_PASSWORD):
    return client.post(
        "/auth/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )


def refresh(client, token):
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_a_password_change_answers_204_and_the_new_password_logs_in(client, make_user):
    user = make_user()
    tokens = login(client, user.email).get_json()
    response = change(client, tokens["access_token"])
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert login(client, user.email, NEW_PASSWORD).status_code == 200
    assert login(client, user.email, PASSWORD).status_code == 401


def test_every_token_of_every_login_stops_working(client, make_user):
    user = make_user()
    logins = [login(client, user.email).get_json() for _ in range(3)]
    rotated = refresh(client, logins[2]["refresh_token"]).get_json()

    assert change(client, logins[0]["access_token"]).status_code == 204

    for tokens in [*logins[:2], rotated]:
        assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert refresh(client, tokens["refresh_token"]).status_code == 401


def test_a_login_after_the_change_works(client, make_user):
    user = make_user()
    change(client, login(client, user.email).get_json()["access_token"])
    tokens = login(client, user.email, NEW_PASSWORD).get_json()
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_other_users_stay_logged_in(client, make_user):
    me, other = make_user(), make_user()
    theirs = login(client, other.email).get_json()
    change(client, login(client, me.email).get_json()["access_token"])
    assert client.get("/auth/me", headers=bearer(theirs["access_token"])).status_code == 200


def test_a_wrong_current_password_is_400_and_changes_nothing(client, make_user):
    user = make_user()
    tokens = login(client, user.email).get_json()
    response = change(client, tokens["access_token"], current="not-my-password")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": True,
        "message": "Current password is incorrect",
        "status_code": 400,
    }
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert login(client, user.email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "new_password",
    ["1234567", "a" * 73, "é" * 37, "pass\x00word1", ""],
    ids=["7 bytes", "73 bytes", "74 bytes in UTF-8", "NUL", "empty"],
)
def test_an_invalid_new_password_is_400(client, make_user, new_password):
    user = make_user()
    tokens = login(client, user.email).get_json()
    response = change(client, tokens["access_token"], new=new_password)
    assert response.status_code == 400
    assert "new_password" in response.get_json()["errors"]
    assert login(client, user.email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD}, "new_password"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "id": 1}, "id"),
    ],
)
def test_the_body_is_validated(client, make_user, auth_headers, body, field):
    response = client.post("/auth/password", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_a_password_change_needs_an_access_token(client):
    response = client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 401


def test_the_operation_revokes_every_family_of_the_user(app, make_user, tokens_for):
    user = make_user()
    other = make_user()
    for owner in (user, user, other):
        tokens_for(owner)
    with app.app_context():
        me = db.session.get(User, user.id)
        change_password(me, PASSWORD, NEW_PASSWORD)
        db.session.commit()
        families = db.session.scalars(db.select(TokenFamily)).all()
        revoked = {(family.user_id, family.revoked_at is not None) for family in families}
        assert revoked == {(user.id, True), (other.id, False)}
        assert me.check_password(NEW_PASSWORD)


def test_the_operation_refuses_a_wrong_current_password(app, make_user):
    user = make_user()
    with app.app_context(), pytest.raises(WrongPassword):
        change_password(db.session.get(User, user.id), "wrong-password", NEW_PASSWORD)
