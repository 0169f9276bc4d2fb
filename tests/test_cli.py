"""Operators' commands: create-user, list-events, prune-tokens, revoke-logins, --help."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.models import TokenFamily, User, utcnow
from tests.conftest import TEST_SETTINGS
from tests.live import ROOT


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, input=None: runner.invoke(args=list(args), input=input)


def stored_user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_create_user_asks_for_everything_and_the_password_twice(app, cli, client):
    result = cli("create-user", input="Ada Lovelace\nada@example.com\nsecret-pw-1\nsecret-pw-1\n")
    assert result.exit_code == 0, result.output
    assert "Password: \nRepeat for confirmation: \n" in result.output  # hidden input
    assert "secret-pw-1" not in result.output
    user = stored_user(app, "ada@example.com")
    assert f"Created user {user.id}: Ada Lovelace <ada@example.com>" in result.output
    login = client.post("/auth/login", json={"email": "ada@example.com", "password": "secret-pw-1"})
    assert login.status_code == 200


def test_create_user_refuses_a_confirmation_that_differs(app, cli):
    result = cli(
        "create-user", "--name", "Ada", "--email", "a@example.com", input="pw-one-1\npw-two-2\n"
    )
    assert result.exit_code == 1
    assert "The two entered values do not match." in result.output
    assert stored_user(app, "a@example.com") is None


def test_create_user_from_a_script_reads_the_password_from_stdin(app, cli):
    result = cli(
        "create-user",
        "--name",
        "Script",
        "--email",
        " Ops@Example.COM ",
        "--password-stdin",
        input="correct-horse-battery\n",
    )
    assert result.exit_code == 0, result.output
    user = stored_user(app, "ops@example.com")
    assert user.name == "Script"
    with app.app_context():
        assert user.check_password("correct-horse-battery")


def test_create_user_applies_the_registration_rules(app, cli):
    result = cli(
        "create-user", "--name", "", "--email", "nope", "--password-stdin", input="short\n"
    )
    assert result.exit_code == 1
    assert "name: Length must be between 1 and 100." in result.output
    assert "email: Not a valid email address." in result.output
    assert "password: Length must be between 8 and 72 bytes in UTF-8." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_refuses_a_registered_email(cli, make_user):
    make_user(email="taken@example.com")
    result = cli(
        "create-user",
        "--name",
        "Again",
        "--email",
        "TAKEN@example.com",
        "--password-stdin",
        input="password123\n",
    )
    assert result.exit_code == 1
    assert "Error: Email already registered" in result.output


def test_list_events_shows_upcoming_events_with_their_fill_rate(cli, make_event):
    make_event(title="Past", event_date=utcnow() - timedelta(days=1))
    make_event(
        title="Half full", total_slots=4, booked_count=2, event_date=utcnow() + timedelta(days=9)
    )
    make_event(title="Empty", total_slots=10, event_date=utcnow() + timedelta(days=2))
    result = cli("list-events")
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    assert rows[0].split() == ["ID", "DATE", "(UTC)", "BOOKED", "SLOTS", "FILL", "TITLE"]
    assert [row.split()[3:] for row in rows[1:3]] == [
        ["0", "10", "0.0%", "Empty"],
        ["2", "4", "50.0%", "Half", "full"],
    ]
    assert rows[3] == "2 of 2 events shown."


def test_list_events_can_include_past_events_and_sort_by_fill(cli, make_event):
    make_event(
        title="Past and full",
        total_slots=1,
        booked_count=1,
        event_date=utcnow() - timedelta(days=1),
    )
    make_event(title="Upcoming", total_slots=10, booked_count=1)
    result = cli("list-events", "--all", "--by-fill")
    assert result.exit_code == 0, result.output
    titles = [re.split(r"%\s+", row)[1] for row in result.output.splitlines()[1:3]]
    assert titles == ["Past and full", "Upcoming"]


def test_by_fill_sorts_every_event_before_limiting(cli, make_event):
    """The fullest events come first even when they are not among the first by date."""
    for day in range(1, 6):
        make_event(title=f"Early {day}", total_slots=10, event_date=utcnow() + timedelta(days=day))
    make_event(title="Late and full", total_slots=2, booked_count=2,
               event_date=utcnow() + timedelta(days=60))  # fmt: skip
    make_event(title="Later, half", total_slots=4, booked_count=2,
               event_date=utcnow() + timedelta(days=90))  # fmt: skip
    result = cli("list-events", "--all", "--by-fill", "--limit", "3")
    assert result.exit_code == 0, result.output
    titles = [re.split(r"%\s+", row)[1] for row in result.output.splitlines()[1:4]]
    assert titles == ["Late and full", "Later, half", "Early 1"]


def add_family(app, user, **fields):
    with app.app_context():
        family = TokenFamily(
            user_id=user.id,
            refresh_jti="jti",
            expires_at=fields.pop("expires_at", utcnow() + timedelta(days=30)),
            **fields,
        )
        db.session.add(family)
        db.session.commit()
        return family.id


def family_ids(app):
    with app.app_context():
        return set(db.session.scalars(select(TokenFamily.id)))


def test_prune_tokens_deletes_logins_that_ended_long_enough_ago(app, cli, make_user):
    user = make_user()
    long_ago = utcnow() - timedelta(days=10)
    active = add_family(app, user)
    recently_revoked = add_family(app, user, revoked_at=utcnow() - timedelta(days=1))
    add_family(app, user, expires_at=long_ago)
    add_family(app, user, revoked_at=long_ago)

    dry_run = cli("prune-tokens", "--dry-run")
    assert dry_run.output == "2 logins would be deleted.\n"
    assert len(family_ids(app)) == 4

    result = cli("prune-tokens")
    assert result.output == "Deleted 2 logins that ended more than 7 days ago.\n"
    assert family_ids(app) == {active, recently_revoked}

    everything = cli("prune-tokens", "--keep-days", "0")
    assert everything.output.startswith("Deleted 1 logins")
    assert family_ids(app) == {active}


def test_a_token_of_a_pruned_login_stays_refused(app, cli, client, make_user, tokens_for):
    user = make_user()
    pair = tokens_for(user)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert cli("prune-tokens", "--keep-days", "0").output.startswith("Deleted 1 logins")
    assert client.get("/auth/me", headers=headers).status_code == 401
    refresh = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401


def test_revoke_logins_logs_a_user_out_everywhere(cli, client, make_user, auth_headers):
    user, other = make_user(email="lost-laptop@example.com"), make_user()
    logins = [auth_headers(user), auth_headers(user)]
    bystander = auth_headers(other)
    result = cli("revoke-logins", "Lost-Laptop@example.com")
    assert result.exit_code == 0, result.output
    assert f"Revoked every login of user {user.id} <lost-laptop@example.com>" in result.output
    assert [client.get("/auth/me", headers=h).status_code for h in logins] == [401, 401]
    assert client.get("/auth/me", headers=bystander).status_code == 200


def test_revoke_logins_of_an_unknown_email_fails(cli):
    result = cli("revoke-logins", "nobody@example.com")
    assert result.exit_code == 1
    assert "No user has the email 'nobody@example.com'." in result.output


def test_flask_help_lists_every_command_with_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "DATABASE_URL": f"sqlite:///{tmp_path / 'eventbook.db'}",
    }
    printed = subprocess.run(
        [sys.executable, "-m", "flask", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    listed = dict(re.findall(r"^  ([a-z-]+)\s+(.+)$", printed.split("Commands:")[1], re.MULTILINE))
    commands = ("seed", "create-user", "list-events", "prune-tokens", "revoke-logins")
    for command in (*commands, "prune-idempotency-keys", "integrity"):
        assert listed.get(command), f"flask --help does not list {command}:\n{printed}"
        assert not listed[command].endswith("..."), f"cut short: {listed[command]}"
    assert listed["create-user"] == "Create a user; the password is asked for twice."
    assert {"db", "openapi", "routes", "shell"} <= set(listed)
