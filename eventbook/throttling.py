"""What each rate limit is counted against, and which responses count.

The client address is `request.remote_addr`: the peer of the connection, or,
only when `TRUSTED_PROXIES` is set, the address those proxies report in
`X-Forwarded-For` (werkzeug's ProxyFix). A client cannot pick its own key.
"""

import hashlib

from flask import current_app, request
from flask_jwt_extended import get_jwt_identity

from eventbook.extensions import limiter


def setting(name):
    """Return a limit provider that reads the limit from setting `name` per request."""

    def limit():
        return current_app.config[name]

    limit.__name__ = name.lower()
    return limit


def client_address():
    """Count per client address."""
    return f"address:{request.remote_addr or '-'}"


def client_address_and_email():
    """Count per client address and the email a login names.

    The email is normalised as the login schema does and stored hashed, so
    the rate limit storage holds no email addresses.
    """
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    email = email.strip().lower() if isinstance(email, str) else ""
    digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{client_address()}:email:{digest}"


def caller():
    """Count per logged-in user, whatever address the requests come from."""
    return f"user:{get_jwt_identity()}"


def credentials_rejected(response):
    """Count only the responses that refused a password (401 on login)."""
    return response.status_code == 401


def password_change_refused(response):
    """Count only the password changes that were refused (400)."""
    return response.status_code == 400


# One counter per user for every operation that takes or asks for a slot
# (booking, joining a waitlist): `scope` makes the routes share it.
booking_limit = limiter.shared_limit(
    setting("BOOKING_RATE_LIMIT"), scope="booking", key_func=caller
)
