"""Configuration, read from the environment (a `.env` file is honoured).

Every variable is listed in the README. `Config` holds the values; the
application factory calls `check_production_config` so that a production
process refuses to start with an unsafe setting.
"""

import os
from datetime import timedelta

from dotenv import load_dotenv
from limits import parse_many

load_dotenv()

# Used only when DEBUG is on and no SECRET_KEY is set; refused in production.
DEFAULT_SECRET_KEY = "eventbook-development-key-do-not-use-in-production"
MIN_SECRET_KEY_BYTES = 32
ALLOWED_ALGORITHMS = ("HS256", "HS384", "HS512")
# Every PostgreSQL session (or, with DATABASE_TRANSACTION_POOLING, every
# transaction: eventbook/database.py) runs with these: a statement that waits
# on a lock or runs away becomes a clear 503 instead of a hung worker.
LOCK_TIMEOUT_MS = 5000
STATEMENT_TIMEOUT_MS = 15000
# The documented defaults of the rate limits, by setting name.
RATE_LIMIT_DEFAULTS = {
    "BOOKING_RATE_LIMIT": "5 per minute",
    "LOGIN_RATE_LIMIT": "10 per 15 minutes",
    "LOGIN_ADDRESS_RATE_LIMIT": "50 per 15 minutes",
    "REGISTER_RATE_LIMIT": "30 per hour",
    "REFRESH_RATE_LIMIT": "60 per minute",
    "LOGIN_ACCOUNT_RATE_LIMIT": "30 per 10 minutes",
    "EVENT_CREATE_RATE_LIMIT": "50 per hour",
}
# How long a rate-limit storage call may take before the process counts on
# its in-memory fallback instead: a stalled Redis must fail as fast as a dead one.
RATELIMIT_STORAGE_TIMEOUT_SECONDS = 0.25


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value and value.strip() else default


def env_list(name):
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_rate_limit(name):
    return os.environ.get(name, "").strip() or RATE_LIMIT_DEFAULTS[name]


def normalize_database_url(url):
    """Make plain `postgresql://` and `postgres://` URLs use psycopg2.

    SQLAlchemy 2.1 maps `postgresql://` to psycopg 3, which is not installed.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def engine_options(url, transaction_pooling=False):
    """Return SQLAlchemy engine options suited to the database in `url`.

    :param transaction_pooling: `url` is a pooler in transaction pooling mode
        (PgBouncer), which refuses session options: eventbook/database.py
        sets the timeouts per transaction instead.
    """
    # Statement parameters (password hashes among them) stay out of log lines
    # and of the messages of database errors, at every log level.
    options = {"hide_parameters": True}
    if url.startswith("postgresql"):
        return {
            **options,
            "pool_pre_ping": True,
            "pool_size": env_int("DATABASE_POOL_SIZE", 10),
            "max_overflow": env_int("DATABASE_MAX_OVERFLOW", 10),
            "pool_timeout": 10,
            "connect_args": {
                "connect_timeout": 5,
                "application_name": "eventbook",
                **({} if transaction_pooling else {"options": SESSION_OPTIONS}),
            },
        }
    return options


SESSION_OPTIONS = f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS}"


API_DESCRIPTION = """\
Book slots at events. Organisers publish events with a fixed number of slots;
attendees book them, and no slot is ever sold twice.

**Authentication.** `POST /auth/login` answers an access token and a refresh
token. Send the access token as `Authorization: Bearer <access_token>` (in
Swagger UI, at /docs: *Authorize*). When it expires, `POST /auth/refresh`
exchanges the refresh token for a new pair. The demo data has `user1@test.com`
with `password123`.

**Errors.** Every error, whatever its status, has the body
`{"error": true, "message": "...", "status_code": 400}`, plus
`"errors": {"field": ["..."]}` when input failed validation. Each operation
lists every status it can answer.

**Tracing.** Every response carries an `X-Request-ID` header (yours, if you sent
a short plain one); the server's log lines for the request carry the same id.

**Rate limits.** Limited operations answer 429 with `Retry-After` when the limit
is reached, and carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` headers.
"""


class Config:
    DEBUG = env_bool("DEBUG")
    SECRET_KEY = os.environ.get("SECRET_KEY") or (DEFAULT_SECRET_KEY if DEBUG else "")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()

    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", "sqlite:///eventbook.db")
    )
    # DATABASE_URL names PgBouncer in transaction pooling mode.
    DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING")

    # Tokens
    JWT_ALGORITHM = os.environ.get("ALGORITHM", "HS256")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=env_int("ACCESS_TOKEN_EXPIRE_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=env_int("REFRESH_TOKEN_EXPIRE_DAYS", 30))
    JWT_TOKEN_LOCATION = ["headers"]
    # Tolerated clock difference between hosts, in seconds, for exp/nbf/iat.
    JWT_DECODE_LEEWAY = 10
    REFRESH_REUSE_INTERVAL_SECONDS = env_int("REFRESH_REUSE_INTERVAL_SECONDS", 10)
    BCRYPT_ROUNDS = env_int("BCRYPT_ROUNDS", 12)

    # Rate limits
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "eventbook")
    # If Redis goes away, keep limiting per process rather than failing requests.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    BOOKING_RATE_LIMIT = env_rate_limit("BOOKING_RATE_LIMIT")
    LOGIN_RATE_LIMIT = env_rate_limit("LOGIN_RATE_LIMIT")
    LOGIN_ADDRESS_RATE_LIMIT = env_rate_limit("LOGIN_ADDRESS_RATE_LIMIT")
    REGISTER_RATE_LIMIT = env_rate_limit("REGISTER_RATE_LIMIT")
    REFRESH_RATE_LIMIT = env_rate_limit("REFRESH_RATE_LIMIT")
    LOGIN_ACCOUNT_RATE_LIMIT = env_rate_limit("LOGIN_ACCOUNT_RATE_LIMIT")
    EVENT_CREATE_RATE_LIMIT = env_rate_limit("EVENT_CREATE_RATE_LIMIT")

    # Holds and the waitlist
    HOLD_TTL_SECONDS = env_int("HOLD_TTL_SECONDS", 600)
    WAITLIST_OFFER_TTL_SECONDS = env_int("WAITLIST_OFFER_TTL_SECONDS", 1800)
    WAITLIST_SWEEP_SECONDS = env_int("WAITLIST_SWEEP_SECONDS", 15)

    # Webhooks: retry n waits WEBHOOK_RETRY_BASE_SECONDS x 2^(n-1) (+/- 20 %, at most 1 h).
    WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS") or 5)
    WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    # How long a delivery worker owns a delivery it claimed; another takes it over after.
    WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 60)

    # HTTP
    MAX_CONTENT_LENGTH = 1024 * 1024
    CORS_ORIGINS = env_list("CORS_ORIGINS")
    TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

    # Prometheus metrics at /metrics, for requests with "Authorization: Bearer
    # <METRICS_TOKEN>"; without a token the endpoint does not exist.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

    # OpenAPI and its documentation pages
    API_TITLE = "eventbook"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/"
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None, "persistAuthorization": True}
    OPENAPI_REDOC_PATH = "redoc"
    # ReDoc's bundle is served from the package (eventbook/ops/static/redoc),
    # so /redoc works offline; REDOC_URL may point elsewhere.
    OPENAPI_REDOC_URL = os.environ.get("REDOC_URL", "/redoc/assets/redoc.standalone.js")
    API_SPEC_OPTIONS = {
        "info": {
            "description": API_DESCRIPTION,
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
    }


def check_production_config(config):
    """Raise `RuntimeError` if `config` is unsafe for a production process."""
    if config.get("JWT_ALGORITHM") not in ALLOWED_ALGORITHMS:
        raise RuntimeError(f"ALGORITHM must be one of {', '.join(ALLOWED_ALGORITHMS)}.")
    check_rate_limits(config)
    if config.get("DEBUG") or config.get("TESTING"):
        return
    key = config.get("SECRET_KEY") or ""
    if key == DEFAULT_SECRET_KEY or len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            "SECRET_KEY must be set to a random value of at least "
            f"{MIN_SECRET_KEY_BYTES} bytes in production. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def check_rate_limits(config):
    """Raise `RuntimeError` if a rate limit setting cannot be parsed.

    Flask-Limiter would otherwise skip an unparsable limit at request time,
    leaving the route unprotected.
    """
    for name in RATE_LIMIT_DEFAULTS:
        value = config.get(name)
        try:
            parse_many(value or "")
        except ValueError:
            raise RuntimeError(
                f"{name} must be a rate limit such as '10 per 15 minutes', not {value!r}."
            ) from None
