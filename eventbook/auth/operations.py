"""Account workflows; they flush, the caller commits."""

from functools import lru_cache

import bcrypt
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from eventbook.auth.tokens import revoke_user_tokens
from eventbook.errors import DomainError
from eventbook.extensions import db
from eventbook.models import User, hash_password


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
    try:
        # A savepoint: losing the race for the email undoes this insert only.
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
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
    match = user.password_match(password)
    if match is None:
        raise InvalidCredentials()
    if match == "as typed":
        renew_password_hash(user, password)
    return user


def renew_password_hash(user, password):
    """Replace a hash made before passwords were normalised by one of the normalised form.

    Only if the hash is still the one that was checked: a password change
    committed meanwhile is never undone.
    """
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(password))
        .execution_options(synchronize_session=False)
    )


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
