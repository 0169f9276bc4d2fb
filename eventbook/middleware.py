"""What every request and response goes through: request ids, proxies, headers."""

import re
import uuid

from flask import g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from eventbook.extensions import cors

# An incoming X-Request-ID is kept only if it is short and plain.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id():
    """Return the id of the current request."""
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return g.request_id


def _assign_request_id():
    request_id()


def _finish_response(response):
    response.headers["X-Request-ID"] = request_id()
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/auth/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def register_middleware(app):
    """Register before the extensions, so the response hook runs after theirs."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Only then is X-Forwarded-For believed; otherwise a client could
        # pick the address its rate limits are counted against.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    if app.config["CORS_ORIGINS"]:
        cors.init_app(
            app,
            origins=app.config["CORS_ORIGINS"],
            supports_credentials=False,
            # Every response header a client may need to read.
            expose_headers=[
                "X-Request-ID",
                "X-Total-Count",
                "X-Next-Cursor",
                "Link",
                "ETag",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Idempotent-Replayed",
                "ETag",
                "X-Next-Cursor",
                "Link",
            ],
        )
    app.before_request(_assign_request_id)
    app.after_request(_finish_response)
