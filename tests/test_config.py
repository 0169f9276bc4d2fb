import pytest

from config import (
    DEFAULT_SECRET_KEY,
    RATE_LIMIT_DEFAULTS,
    check_production_config,
    normalize_database_url,
)
from eventbook import create_app
from tests.conftest import TEST_SETTINGS

PRODUCTION = {"DEBUG": False, "TESTING": False, "JWT_ALGORITHM": "HS256", **RATE_LIMIT_DEFAULTS}


@pytest.mark.parametrize("key", [None, "", DEFAULT_SECRET_KEY, "short-secret", "x" * 31])
def test_production_refuses_a_weak_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_production_config({**PRODUCTION, "SECRET_KEY": key})


def test_production_accepts_a_long_random_key():
    check_production_config({**PRODUCTION, "SECRET_KEY": "k" * 32})


def test_debug_may_use_the_development_key():
    check_production_config({**PRODUCTION, "DEBUG": True, "SECRET_KEY": DEFAULT_SECRET_KEY})


@pytest.mark.parametrize("algorithm", ["none", "RS256", "HS1"])
def test_only_hmac_algorithms_are_accepted(algorithm):
    with pytest.raises(RuntimeError, match="ALGORITHM"):
        check_production_config({**PRODUCTION, "SECRET_KEY": "k" * 32, "JWT_ALGORITHM": algorithm})


def test_the_factory_refuses_to_start_with_a_weak_key():
    with pytest.raises(RuntimeError):
        create_app({**TEST_SETTINGS, "TESTING": False, "SECRET_KEY": "weak"})


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg2://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:///eventbook.db", "sqlite:///eventbook.db"),
    ],
)
def test_plain_postgresql_urls_use_psycopg2(url, expected):
    assert normalize_database_url(url) == expected


def test_the_factory_writes_nothing_to_the_database(tmp_path):
    database = tmp_path / "untouched.db"
    create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    assert not database.exists()


def test_engine_options_follow_the_database_in_use():
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db"})
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is True
    assert "lock_timeout" in options["connect_args"]["options"]
    sqlite = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "pool_pre_ping" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]


def test_redis_rate_limit_storage_gets_short_timeouts_and_no_retries():
    app = create_app({**TEST_SETTINGS, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    options = app.config["RATELIMIT_STORAGE_OPTIONS"]
    assert options["socket_connect_timeout"] == options["socket_timeout"] == 0.25
    assert options["retry"].get_retries() == 0


def test_behind_a_transaction_pooler_no_session_options_are_sent():
    """PgBouncer refuses them; eventbook/database.py sets the timeouts per transaction."""
    app = create_app(
        {
            **TEST_SETTINGS,
            "SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db",
            "DATABASE_TRANSACTION_POOLING": True,
        }
    )
    assert "options" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
