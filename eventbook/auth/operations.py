"""Account workflows; they flush, the caller commits."""

from functools import lru_cache

import bcrypt
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from eventbook.auth.tokens import revoke_user_tokens
from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import User


class EmailTaken(DomainError):
    message = "Email already registered"


class InvalidCredentials(DomainError):
    status_code = 401
    message = "Invalid credentials"


class WrongPassword(DomainError):
    message = "Current password is incorrect"


def register_user(name, email, password):
    """Create a user; `email` must already be normalised (`normalize_email`).

    :raises EmailTaken: another user has this email.
    """
    user = User(name=name, email=email)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken() from None
    return user


@lru_cache(maxsize=4)
def _dummy_hash(rounds):
    return bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds))


def authenticate(email, password):
    """Return the user with these credentials.

    An unknown email costs one bcrypt check too, so response times do not
    reveal which emails are registered.

    :raises InvalidCredentials: unknown email or wrong password.
    """
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        bcrypt.checkpw(b"not checked", _dummy_hash(current_app.config["BCRYPT_ROUNDS"]))
        raise InvalidCredentials()
    if not user.check_password(password):
        raise InvalidCredentials()
    return user


def change_password(user, current_password, new_password):
    """Give `user` a new password and end every login of theirs, this one included.

    The password version grows in the database, so a login that checked the
    old password and is written after this change is over too.

    :raises WrongPassword: `current_password` is not the user's password.
    """
    if not user.check_password(current_password):
        raise WrongPassword()
    user.set_password(new_password)
    user.password_version = User.password_version + 1
    db.session.flush()
    revoke_user_tokens(user.id)
