"""One account per mailbox, one password per spelling."""

import unicodedata

import bcrypt
import flask_migrate
import idna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from eventbook import create_app
from eventbook.auth.normalization import normalize_email, normalize_password
from eventbook.extensions import db
from eventbook.models import User
from tests.cluster import in_parallel, instances
from tests.conftest import BACKENDS, TEST_SETTINGS
from tests.live import call

NFC_EMAIL = unicodedata.normalize("NFC", "x@bücher.example")
SPELLINGS = [
    NFC_EMAIL,
    unicodedata.normalize("NFD", "x@bücher.example"),
    "x@xn--bcher-kva.example",
    "X@BÜCHER.EXAMPLE",
    "x@\uff42ücher.example",  # a full-width b, mapped by IDNA's UTS #46
]
PASSWORD_NFC = unicodedata.normalize("NFC", "Crème-brûlée-42")
PASSWORD_NFD = unicodedata.normalize("NFD", "Crème-brûlée-42")


def register(client, email, password="long-enough-1"):
    return client.post("/auth/register", json={"name": "X", "email": email, "password": password})


def login(client, email, password):
    return client.post("/auth/login", json={"email": email, "password": password})


def test_every_spelling_of_one_mailbox_is_one_account(client):
    first = register(client, SPELLINGS[0])
    assert first.status_code == 201
    assert first.get_json()["email"] == NFC_EMAIL
    for spelling in SPELLINGS[1:]:
        response = register(client, spelling)
        assert response.status_code == 400, spelling
        assert response.get_json()["message"] == "Email already registered"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_any_spelling_logs_in(client, spelling):
    register(client, SPELLINGS[0])
    assert login(client, spelling, "long-enough-1").status_code == 200


def test_an_invalid_domain_is_refused(client):
    response = register(client, "x@-bad-.example")
    assert response.status_code == 400
    assert "email" in response.get_json()["errors"]


local_parts = st.text(alphabet="abcdefgxyzABCXYZéÉüÜ0123456789._-", min_size=1, max_size=12)
labels = st.text(alphabet="abcxyzéüöçñ", min_size=1, max_size=10)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=local_parts, domain_labels=st.lists(labels, min_size=1, max_size=3))
def test_all_spellings_of_an_address_normalise_alike(local, domain_labels):
    domain = ".".join([*domain_labels, "example"])
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode()
    except idna.IDNAError:
        return  # not a domain name at all
    stored = normalize_email(f"{local}@{domain}")
    spellings = [
        f"{local.upper()}@{domain.upper()}",
        unicodedata.normalize("NFD", f"{local}@{domain}"),
        f"  {local}@{ascii_domain} ",
        f"{local}@{ascii_domain.upper()}",
    ]
    assert {normalize_email(spelling) for spelling in spellings} == {stored}
    assert normalize_email(stored) == stored
    assert stored == unicodedata.normalize("NFC", stored)


@pytest.mark.parametrize(
    "typed", [PASSWORD_NFC, PASSWORD_NFD, unicodedata.normalize("NFKD", PASSWORD_NFC)]
)
def test_a_password_is_the_same_in_any_normal_form(client, typed):
    register(client, "p@example.com", PASSWORD_NFD)
    assert login(client, "p@example.com", typed).status_code == 200


def test_compatibility_characters_are_normalised_nfkc(client):
    full_width = "".join(chr(ord(character) + 0xFEE0) for character in "password123")
    register(client, "p@example.com", full_width)
    assert login(client, "p@example.com", "password123").status_code == 200


def test_a_hash_made_before_normalisation_still_works_and_is_renewed(app, client, make_user):
    user = make_user(email="old@example.com")
    with app.app_context():
        legacy = bcrypt.hashpw(PASSWORD_NFD.encode(), bcrypt.gensalt(4)).decode()
        db.session.execute(
            text("UPDATE users SET password_hash = :hash WHERE id = :id"),
            {"hash": legacy, "id": user.id},
        )
        db.session.commit()
    assert login(client, "old@example.com", PASSWORD_NFD).status_code == 200
    # Renewed: now any spelling works.
    assert login(client, "old@example.com", PASSWORD_NFC).status_code == 200
    with app.app_context():
        renewed = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert bcrypt.checkpw(normalize_password(PASSWORD_NFD).encode(), renewed.encode())


@pytest.mark.parametrize(
    "password",
    [
        "\ufdfa" * 4,  # 4 characters, 132 bytes once NFKC expands them
        "pass\ud800word",  # a lone surrogate
        "short",
    ],
)
def test_a_password_bcrypt_cannot_hash_is_a_400(client, password):
    response = register(client, "p@example.com", password)
    assert response.status_code == 400
    assert "password" in response.get_json()["errors"]


@pytest.mark.parametrize("password", ["\ufdfa" * 10, "pass\ud800word"])
def test_a_presented_password_bcrypt_cannot_hash_is_just_wrong(client, make_user, password):
    user = make_user()
    assert login(client, user.email, password).status_code in (400, 401)


# Concurrency, on gunicorn and PostgreSQL.


@pytest.mark.postgresql
@pytest.mark.live
def test_concurrent_registrations_of_every_spelling_make_one_account(fresh_postgresql_database):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": fresh_postgresql_database})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    with instances(fresh_postgresql_database, count=1) as [instance]:
        answers = in_parallel(
            lambda email: call(
                "POST",
                f"{instance.url}/auth/register",
                {"name": "X", "email": email, "password": "long-enough-1"},
            )[0],
            [(spelling,) for spelling in SPELLINGS * 2],
        )
    assert sorted(answers) == [201] + [400] * (2 * len(SPELLINGS) - 1)
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == [NFC_EMAIL]
        db.engine.dispose()


# The migration that normalises existing rows.

BEFORE = "b6e2d0c7a9f1"


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_postgresql_database")


def test_the_migration_normalises_emails_and_reports_collisions(empty_database_url, capfd):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    rows = [
        (1, "Someone@Example.COM"),
        (2, SPELLINGS[1]),  # NFD, the oldest of the mailbox
        (3, SPELLINGS[2]),  # its ASCII spelling
        (4, SPELLINGS[0]),  # already in normal form: keeps it
        (5, "plain@example.com"),
    ]
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        for user_id, email in rows:
            db.session.execute(
                text(
                    "INSERT INTO users (id, name, email, password_hash, created_at) "
                    "VALUES (:id, 'X', :email, 'x', CURRENT_TIMESTAMP)"
                ),
                {"id": user_id, "email": email},
            )
        db.session.commit()
        db.session.remove()
        flask_migrate.upgrade()  # alembic's logging configuration reports on stderr
        emails = dict(db.session.execute(text("SELECT id, email FROM users")).all())
        db.session.remove()
        flask_migrate.downgrade(revision="base")
        db.engine.dispose()
    assert emails == {
        1: "someone@example.com",
        2: SPELLINGS[1],
        3: SPELLINGS[2],
        4: NFC_EMAIL,
        5: "plain@example.com",
    }
    reported = capfd.readouterr().err
    assert f"Accounts [2, 3] name the same mailbox as account 4 ({NFC_EMAIL})" in reported
