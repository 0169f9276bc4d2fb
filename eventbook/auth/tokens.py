"""Access and refresh tokens, grouped into one revocable family per login.

Every token carries its family id (`fam`). A family has exactly one valid
refresh token at a time; refreshing replaces it. Presenting a replaced
refresh token means it leaked, so the whole family is revoked, unless it is
presented within `REFRESH_REUSE_INTERVAL_SECONDS` of its replacement (two
tabs refreshing at once): then it is answered with the family's current
refresh token. A family made under an older password version than the
user's is over, however the login and the password change interleaved.
"""

import re
import uuid
from datetime import timedelta
from functools import cache

from flask import current_app, g, request
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException, WrongTokenError
from jwt import InvalidTokenError
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import TokenFamily, User, new_family_id, utcnow


class TokenRevoked(DomainError):
    status_code = 401
    message = "Token has been revoked"


class TokenReuseDetected(TokenRevoked):
    """A refresh token was presented after it had been rotated."""


def _new_jti():
    return str(uuid.uuid4())


def _refresh_lifetime():
    return current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]


def _token_pair(user_id, family_id, refresh_jti):
    claims = {"fam": family_id}
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": create_access_token(str(user_id), additional_claims=claims),
        "refresh_token": create_refresh_token(
            str(user_id), additional_claims={**claims, "jti": refresh_jti}
        ),
        "token_type": "bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


def issue_tokens(user):
    """Start a token family for a new login of `user`; return its token pair.

    The login belongs to the password version `user` was read with, so a
    password change committed meanwhile ends it.
    """
    family = TokenFamily(
        id=new_family_id(),
        user_id=user.id,
        refresh_jti=_new_jti(),
        expires_at=utcnow() + _refresh_lifetime(),
        password_version=user.password_version,
    )
    db.session.add(family)
    return _token_pair(user.id, family.id, family.refresh_jti)


def rotate_refresh_token(encoded_token):
    """Exchange a refresh token for a new pair; the presented one stops working.

    The refresh token this one replaced is answered again, with the current
    pair of the family, within `REFRESH_REUSE_INTERVAL_SECONDS` of its
    replacement.

    :raises jwt.InvalidTokenError: the token is malformed, badly signed or expired.
    :raises WrongTokenError: an access token was presented.
    :raises TokenRevoked: the family was revoked (logout, password change).
    :raises TokenReuseDetected: the token had already been rotated; the family is
        now revoked and the caller must commit that.
    """
    claims = decode_token(encoded_token)
    if claims.get("type") != "refresh" or not claims.get("fam"):
        raise WrongTokenError("Only refresh tokens are allowed")
    family_id, user_id, jti = claims.get("fam"), int(claims["sub"]), claims["jti"]
    now, new_jti = utcnow(), _new_jti()
    rotated = db.session.execute(
        update(TokenFamily)
        .where(
            TokenFamily.id == family_id,
            TokenFamily.user_id == user_id,
            TokenFamily.refresh_jti == jti,
            TokenFamily.revoked_at.is_(None),
            TokenFamily.password_version == _password_version(user_id),
        )
        .values(
            refresh_jti=new_jti,
            previous_refresh_jti=jti,
            rotated_at=now,
            expires_at=now + _refresh_lifetime(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if rotated == 1:
        return _token_pair(user_id, family_id, new_jti)
    # A fresh read: a concurrent rotation has committed by now (it held the row).
    family = db.session.get(TokenFamily, family_id, populate_existing=True)
    if family is None or family.user_id != user_id:
        raise TokenRevoked()
    if not is_live(family, db.session.get(User, user_id, populate_existing=True)):
        raise TokenRevoked()
    if _within_reuse_interval(family, jti, now):
        return _token_pair(user_id, family_id, family.refresh_jti)
    revoke_family(family_id)
    raise TokenReuseDetected()


def _password_version(user_id):
    return select(User.password_version).where(User.id == user_id).scalar_subquery()


def _within_reuse_interval(family, jti, now):
    interval = current_app.config["REFRESH_REUSE_INTERVAL_SECONDS"]
    return (
        interval > 0
        and family.previous_refresh_jti == jti
        and family.rotated_at is not None
        and now - family.rotated_at <= timedelta(seconds=interval)
    )


def is_live(family, user):
    """Return whether the login `family` of `user` may still be used."""
    return family.revoked_at is None and family.password_version == user.password_version


def revoke_family(family_id):
    """Revoke every token of one login."""
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_user_tokens(user_id):
    """Revoke every token of every login of a user."""
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def log_out(access_claims, refresh_token=None):
    """End the caller's login and, if `refresh_token` is one of the caller's, its login too.

    A refresh token that is malformed, badly signed or someone else's is
    ignored: it ends nothing, and the caller's own login still ends.
    """
    families = {access_claims["fam"]}
    claims = _readable_claims(refresh_token) if refresh_token is not None else {}
    if claims.get("type") == "refresh" and claims.get("sub") == access_claims["sub"]:
        families.add(claims.get("fam"))
    for family_id in families:
        revoke_family(family_id)


def _readable_claims(encoded_token):
    try:
        return decode_token(encoded_token, allow_expired=True)
    except (InvalidTokenError, JWTExtendedException):
        return {}


def prune_families(before, dry_run=False):
    """Delete the logins that expired or were revoked before `before`; return how many.

    Their tokens stay refused: a token whose family is gone counts as revoked.
    """
    stale = or_(TokenFamily.expires_at < before, TokenFamily.revoked_at < before)
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(TokenFamily).where(stale))
    return db.session.execute(
        delete(TokenFamily).where(stale).execution_options(synchronize_session=False)
    ).rowcount


@cache
def _family_with_user():
    """The statement reading a login (bind parameter `family_id`) with its user; built once."""
    return (
        select(TokenFamily)
        .options(joinedload(TokenFamily.user))
        .where(TokenFamily.id == bindparam("family_id"))
    )


def register_token_loaders(jwt):
    @jwt.token_in_blocklist_loader
    def is_revoked(header, payload):
        # One query checks the login and loads its user; the user is kept for
        # the lookup below, so an authenticated request costs one statement.
        family = db.session.scalar(_family_with_user(), {"family_id": payload.get("fam")})
        revoked = (
            family is None
            or str(family.user_id) != payload["sub"]
            or not is_live(family, family.user)
        )
        g.token_user = None if revoked else family.user
        return revoked

    @jwt.user_lookup_loader
    def load_user(header, payload):
        user = g.pop("token_user", None)
        if user is not None and str(user.id) == payload["sub"]:
            return user
        return db.session.get(User, int(payload["sub"]))


# The scheme of an Authorization header is case-insensitive (RFC 9110, 11.1).
BEARER = re.compile(r"bearer(?=\s)", re.IGNORECASE)


def accept_any_case_of_bearer():
    """Let `Authorization: bearer <token>` (any case of the scheme) through as `Bearer`."""
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header and BEARER.match(header):
        request.environ["HTTP_AUTHORIZATION"] = "Bearer" + header[len("bearer") :]
