"""eventbook: an event-booking HTTP API."""

import os
from collections.abc import Mapping

from flask import Flask

from config import (
    RATELIMIT_STORAGE_TIMEOUT_SECONDS,
    Config,
    check_production_config,
    engine_options,
    normalize_database_url,
)
from eventbook import database, metrics, models  # noqa: F401  (listeners, tables)
from eventbook.attendees.routes import blp as attendees_blp
from eventbook.auth.routes import blp as auth_blp
from eventbook.auth.tokens import register_token_loaders
from eventbook.bookings.routes import blp as bookings_blp
from eventbook.boundary import register_boundary
from eventbook.calendar.routes import blp as calendar_blp
from eventbook.cli import register_commands
from eventbook.errors import register_error_handlers, register_jwt_error_loaders
from eventbook.events.routes import blp as events_blp
from eventbook.extensions import IdConverter, api, db, jwt, limiter, migrate
from eventbook.limiter import redis_storage_options
from eventbook.logs import configure_logging
from eventbook.middleware import register_middleware
from eventbook.ops.routes import blp as ops_blp
from eventbook.ops.routes import docs_assets, redoc_assets
from eventbook.throttling import register_throttling
from eventbook.waitlist.routes import blp as waitlist_blp
from eventbook.webhooks import models as webhook_models  # noqa: F401  (registers the tables)
from eventbook.webhooks.routes import changes_blp, webhooks_blp

__version__ = "1.0.0"

MIGRATIONS_DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def create_app(config=None):
    """Create the application.

    :param config: a configuration class or object, or a mapping of settings
        applied on top of `Config` (which reads the environment).
    :raises RuntimeError: the configuration is unsafe for production.
    """
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # keep the field order of the schemas
    load_config(app, config)
    check_production_config(app.config)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    metrics.init_app(app)
    return app


def load_config(app, config):
    app.config.from_object(Config)
    app.config["API_VERSION"] = __version__
    if isinstance(config, Mapping):
        app.config.from_mapping(config)
    elif config is not None:
        app.config.from_object(config)
    uri = normalize_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    # Chosen for the database actually used, unless a setting gives them.
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(uri, app.config["DATABASE_TRANSACTION_POOLING"]),
    )
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        # A Redis that stops answering must not hang requests.
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", redis_storage_options(RATELIMIT_STORAGE_TIMEOUT_SECONDS)
        )


def register_extensions(app):
    app.url_map.converters["id"] = IdConverter
    # First: every request has its id before anything can log or fail, and
    # its response hook runs last, after the extensions' own.
    register_middleware(app)
    # Then: the body is read, bounded and parsed before anything can answer.
    register_boundary(app)
    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY)
    jwt.init_app(app)
    register_token_loaders(jwt)
    register_jwt_error_loaders(jwt)
    limiter.init_app(app)
    register_throttling(app)
    api.init_app(app)


def register_blueprints(app):
    for blueprint in (
        ops_blp,
        auth_blp,
        events_blp,
        bookings_blp,
        waitlist_blp,
        changes_blp,
        webhooks_blp,
        attendees_blp,
        calendar_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_assets)
    app.register_blueprint(redoc_assets)
