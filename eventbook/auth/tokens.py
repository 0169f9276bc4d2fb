"""Access and refresh tokens, grouped into one revocable family per login.

Every token carries its family id (`fam`). A family has exactly one valid
refresh token at a time; refreshing replaces it. Presenting a replaced
refresh token means it leaked, so the whole family is revoked.
"""

import uuid

from flask import current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import WrongTokenError
from sqlalchemy import delete, func, or_, select, update
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
    """Start a token family for a new login of `user`; return its token pair."""
    family = TokenFamily(
        id=new_family_id(),
        user_id=user.id,
        refresh_jti=_new_jti(),
        expires_at=utcnow() + _refresh_lifetime(),
    )
    db.session.add(family)
    return _token_pair(user.id, family.id, family.refresh_jti)


def rotate_refresh_token(encoded_token):
    """Exchange a refresh token for a new pair; the presented one stops working.

    :raises jwt.InvalidTokenError: the token is malformed, badly signed or expired.
    :raises WrongTokenError: an access token was presented.
    :raises TokenRevoked: the family was revoked (logout, password change).
    :raises TokenReuseDetected: the token had already been rotated; the family is
        now revoked and the caller must commit that.
    """
    claims = decode_token(encoded_token)
    if claims.get("type") != "refresh" or not claims.get("fam"):
        raise WrongTokenError("Only refresh tokens are allowed")
    family_id, user_id = claims.get("fam"), int(claims["sub"])
    now, new_jti = utcnow(), _new_jti()
    rotated = db.session.execute(
        update(TokenFamily)
        .where(
            TokenFamily.id == family_id,
            TokenFamily.user_id == user_id,
            TokenFamily.refresh_jti == claims["jti"],
            TokenFamily.revoked_at.is_(None),
        )
        .values(refresh_jti=new_jti, expires_at=now + _refresh_lifetime())
        .execution_options(synchronize_session=False)
    ).rowcount
    if rotated == 1:
        return _token_pair(user_id, family_id, new_jti)
    family = db.session.get(TokenFamily, family_id)
    if family is None or family.revoked_at is not None or family.user_id != user_id:
        raise TokenRevoked()
    revoke_family(family_id)
    raise TokenReuseDetected()


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
    """Revoke the caller's login and, if given, the login of `refresh_token`.

    :raises jwt.InvalidTokenError: `refresh_token` is malformed or badly signed.
    :raises WrongTokenError: `refresh_token` is not a refresh token of the caller.
    """
    families = {access_claims["fam"]}
    if refresh_token is not None:
        claims = decode_token(refresh_token, allow_expired=True)
        if claims.get("type") != "refresh" or claims["sub"] != access_claims["sub"]:
            raise WrongTokenError("Not a refresh token of this user")
        families.add(claims["fam"])
    for family_id in families:
        revoke_family(family_id)


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


def register_token_loaders(jwt):
    @jwt.token_in_blocklist_loader
    def is_revoked(header, payload):
        # One query checks the login and loads its user; the user is kept for
        # the lookup below, so an authenticated request costs one statement.
        family = db.session.scalar(
            select(TokenFamily)
            .options(joinedload(TokenFamily.user))
            .where(TokenFamily.id == payload.get("fam"))
        )
        revoked = (
            family is None or family.revoked_at is not None or str(family.user_id) != payload["sub"]
        )
        g.token_user = None if revoked else family.user
        return revoked

    @jwt.user_lookup_loader
    def load_user(header, payload):
        user = g.pop("token_user", None)
        if user is not None and str(user.id) == payload["sub"]:
            return user
        return db.session.get(User, int(payload["sub"]))
