"""One error body for every failure: domain errors, HTTP errors, JWT errors, crashes.

Every non-2xx response is ``{"error": true, "message": ..., "status_code": ...}``,
plus ``"errors": {field: [messages]}`` when input failed validation.
"""

import logging

from flask import make_response
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request is invalid",
    401: "Authentication required: send an 'Authorization: Bearer <access token>' header",
    403: "You are not allowed to do this",
    404: "Not found",
    405: "Method not allowed",
    408: "The request body did not arrive in time",
    409: "Conflict",
    413: "The request body is too large (limit: 1 MiB)",
    415: "The request body must be JSON (Content-Type: application/json)",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service temporarily unavailable",
}
VALIDATION_MESSAGE = "Validation failed"
# An error body lists at most this many fields, whatever the input.
MAX_LISTED_FIELDS = 20
RETRY_AFTER_UNAVAILABLE = "5"


class DomainError(Exception):
    """A rule of the domain was broken; subclasses set the status and message."""

    status_code = 400
    message = MESSAGES[400]
    headers = {}

    def __init__(self, message=None):
        if message is not None:
            self.message = message
        super().__init__(self.message)


def error_body(status_code, message, errors=None):
    body = {"error": True, "message": message, "status_code": status_code}
    if errors:
        body["errors"] = errors
    return body


def error_response(status_code, message=None, errors=None, headers=None):
    """Return a Flask response tuple carrying the uniform error body.

    Of `errors`, the first `MAX_LISTED_FIELDS` fields are listed and the
    message says how many more there were.
    """
    headers = dict(headers or {})
    if errors and len(errors) > MAX_LISTED_FIELDS:
        unlisted = len(errors) - MAX_LISTED_FIELDS
        errors = dict(list(errors.items())[:MAX_LISTED_FIELDS])
        message = f"{message or VALIDATION_MESSAGE} ({unlisted} more fields with errors not listed)"
    if status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    message = message or MESSAGES.get(status_code, "Error")
    return error_body(status_code, message, errors), status_code, headers


def flatten_messages(messages):
    """Turn webargs' ``{location: {field: [msg]}}`` into ``{field: [msg]}``."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            items = value if isinstance(value, list) else [value]
            flat.setdefault(prefix or "_schema", []).extend(str(item) for item in items)

    for location_messages in messages.values():
        walk("", location_messages)
    return flat


def describe_limit(item):
    """Say a rate limit as the settings write it: "5 per minute", "10 per 15 minutes"."""
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount} per {unit}"
    return f"{item.amount} per {item.multiples} {unit}s"


def error_response_for_http_exception(error):
    """Build the error response for a werkzeug `HTTPException`."""
    data = getattr(error, "data", None) or {}
    errors = flatten_messages(data["messages"]) if data.get("messages") else data.get("errors")
    message = data.get("message")
    if message is None:
        if errors:
            message = VALIDATION_MESSAGE
        elif isinstance(error, RateLimitExceeded):
            message = (
                error.description
                if error.limit.error_message
                else f"Too many requests: the limit is {describe_limit(error.limit.limit)}"
            )
        elif error.description != type(error).description:
            message = error.description  # a message given to abort()
        else:
            message = MESSAGES.get(error.code, error.name)
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return error_response(error.code, message, errors, headers)


def handle_domain_error(error):
    """Answer a `DomainError` with its status and message.

    The response names the rule that answered (`response.domain_error`, the
    error's class name), for whatever counts outcomes after the request.
    """
    response = make_response(
        error_response(error.status_code, error.message, headers=error.headers)
    )
    response.domain_error = type(error).__name__
    return response


def database_unavailable_response(error):
    log.error("Database unavailable: %s", error, exc_info=error)
    return error_response(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE})


def handle_database_error(error):
    # A lost connection (the server restarting, a network cut) is transient.
    if error.connection_invalidated:
        return database_unavailable_response(error)
    return handle_unexpected_error(error)


def handle_unexpected_error(error):
    log.exception("Unhandled error", exc_info=error)
    return error_response(500)


def register_error_handlers(app):
    app.register_error_handler(DomainError, handle_domain_error)
    # Unreachable server, lock or statement timeout, exhausted pool: try again.
    for unavailable in (OperationalError, InterfaceError, PoolTimeoutError):
        app.register_error_handler(unavailable, database_unavailable_response)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)


def register_jwt_error_loaders(jwt):
    """Answer every token problem with the uniform 401 body."""

    @jwt.unauthorized_loader
    def missing_token(reason):
        return error_response(401)

    @jwt.invalid_token_loader
    def invalid_token(reason):
        return error_response(401, "Invalid token")

    @jwt.expired_token_loader
    def expired_token(header, payload):
        return error_response(401, "Token has expired")

    @jwt.revoked_token_loader
    def revoked_token(header, payload):
        return error_response(401, "Token has been revoked")

    @jwt.needs_fresh_token_loader
    def needs_fresh_token(header, payload):
        return error_response(401, "A fresh token is required")

    @jwt.user_lookup_error_loader
    def unknown_user(header, payload):
        return error_response(401, "Invalid token")

    @jwt.token_verification_failed_loader
    def verification_failed(header, payload):
        return error_response(401, "Invalid token")
