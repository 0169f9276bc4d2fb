from flask_jwt_extended import current_user, get_jwt

from eventbook.api import Blueprint
from eventbook.auth import operations, tokens
from eventbook.auth.schemas import (
    LOGIN_EXAMPLE,
    LOGOUT_EXAMPLE,
    PASSWORD_CHANGE_EXAMPLE,
    REFRESH_EXAMPLE,
    REGISTER_EXAMPLE,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    RefreshSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from eventbook.extensions import db
from eventbook.throttling import (
    limit_failed_password_changes,
    limit_logins,
    limit_refresh,
    limit_registration,
)

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Registration, login and tokens.")
blp.before_app_request(tokens.accept_any_case_of_bearer)


@blp.route("/register", methods=["POST"])
@limit_registration
@blp.arguments(RegisterSchema, example=REGISTER_EXAMPLE)
@blp.response(201, UserSchema)
@blp.documents(operations.EmailTaken, 413, 415, 429)
@blp.doc(operationId="register")
def register(data):
    """Register a new user.

    The email is stored in one form (Unicode NFC, lower case, the domain in
    Unicode after IDNA) and must not be registered yet in any spelling. The
    password is 8 to 72 bytes long in UTF-8 once normalised to Unicode NFKC.
    Every request counts against the per-address limit (`REGISTER_RATE_LIMIT`).
    """
    user = operations.register_user(**data)
    db.session.commit()
    return user


@blp.route("/login", methods=["POST"])
@limit_logins
@blp.arguments(LoginSchema, example=LOGIN_EXAMPLE)
@blp.response(200, TokenSchema)
@blp.documents(operations.InvalidCredentials, 413, 415, 429)
@blp.doc(operationId="login")
def login(data):
    """Log in and receive an access token and a refresh token.

    Send the access token as `Authorization: Bearer <access_token>` (in
    Swagger UI: the Authorize button). It expires after `expires_in` seconds; the
    refresh token buys a new pair at `POST /auth/refresh`. An unknown email
    and a wrong password get the same answer. Every attempt counts against
    the limit per email (`LOGIN_ACCOUNT_RATE_LIMIT`); failed attempts are
    limited per client address and email (`LOGIN_RATE_LIMIT`) and per client
    address (`LOGIN_ADDRESS_RATE_LIMIT`), where successful logins do not count.
    """
    user = operations.authenticate(data["email"], data["password"])
    token_pair = tokens.issue_tokens(user)
    db.session.commit()
    return token_pair


@blp.route("/refresh", methods=["POST"])
@limit_refresh
@blp.arguments(RefreshSchema, example=REFRESH_EXAMPLE)
@blp.response(200, TokenSchema)
@blp.documents(401, 413, 415, 429)
@blp.doc(operationId="refreshTokens")
def refresh(data):
    """Exchange a refresh token for a new token pair.

    The presented refresh token stops working. Presenting it again revokes
    every token of that login, except within `REFRESH_REUSE_INTERVAL_SECONDS`
    of its replacement (two tabs refreshing at once): then it gets the
    login's current pair.
    """
    try:
        token_pair = tokens.rotate_refresh_token(data["refresh_token"])
    except tokens.TokenReuseDetected:
        db.session.commit()  # the login stays revoked although this request fails
        raise
    db.session.commit()
    return token_pair


@blp.route("/logout", methods=["POST"])
@blp.login_required
@blp.arguments(LogoutSchema, required=False, example=LOGOUT_EXAMPLE)
@blp.response(204)
@blp.documents(413, 415)
@blp.doc(operationId="logout")
def logout(data):
    """Log out: the access token and the refresh token of this login stop working.

    A `refresh_token` of another login of yours ends that login too; one that
    is malformed or not yours is ignored.
    """
    tokens.log_out(get_jwt(), data.get("refresh_token"))
    db.session.commit()


@blp.route("/me")
@blp.login_required
@blp.response(200, UserSchema)
@blp.doc(operationId="getCurrentUser")
def me():
    """Return the logged-in user."""
    return current_user


@blp.route("/password", methods=["POST"])
@blp.login_required
@limit_failed_password_changes
@blp.arguments(PasswordChangeSchema, example=PASSWORD_CHANGE_EXAMPLE)
@blp.response(204)
@blp.documents(operations.WrongPassword, 413, 415, 429)
@blp.doc(operationId="changePassword")
def change_password(data):
    """Change your password; every token of yours stops working, this one too.

    Log in again with the new password. Refused attempts count against
    `LOGIN_RATE_LIMIT` per user.
    """
    operations.change_password(current_user, data["current_password"], data["new_password"])
    db.session.commit()
