from flask_jwt_extended import current_user, get_jwt

from eventbook.api import Blueprint
from eventbook.auth import operations, tokens
from eventbook.auth.schemas import (
    LOGIN_EXAMPLE,
    LOGOUT_EXAMPLE,
    REFRESH_EXAMPLE,
    REGISTER_EXAMPLE,
    LoginSchema,
    LogoutSchema,
    RefreshSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from eventbook.extensions import db

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Registration, login and tokens.")


@blp.route("/register", methods=["POST"])
@blp.arguments(RegisterSchema, example=REGISTER_EXAMPLE)
@blp.response(201, UserSchema)
@blp.documents(operations.EmailTaken, 413, 415)
@blp.doc(operationId="register")
def register(data):
    """Register a new user.

    The email is stored in lower case and must not be registered yet. The
    password is 8 to 72 bytes long in UTF-8.
    """
    user = operations.register_user(**data)
    db.session.commit()
    return user


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema, example=LOGIN_EXAMPLE)
@blp.response(200, TokenSchema)
@blp.documents(operations.InvalidCredentials, 413, 415)
@blp.doc(operationId="login")
def login(data):
    """Log in and receive an access token and a refresh token.

    Send the access token as `Authorization: Bearer <access_token>` (in
    Swagger UI: the Authorize button). It expires after `expires_in` seconds; the
    refresh token buys a new pair at `POST /auth/refresh`. An unknown email
    and a wrong password get the same answer.
    """
    user = operations.authenticate(data["email"], data["password"])
    token_pair = tokens.issue_tokens(user)
    db.session.commit()
    return token_pair


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema, example=REFRESH_EXAMPLE)
@blp.response(200, TokenSchema)
@blp.documents(401, 413, 415)
@blp.doc(operationId="refreshTokens")
def refresh(data):
    """Exchange a refresh token for a new token pair.

    The presented refresh token stops working. Presenting it again revokes
    every token of that login.
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
    """Log out: the access token and the refresh token of this login stop working."""
    tokens.log_out(get_jwt(), data.get("refresh_token"))
    db.session.commit()


@blp.route("/me")
@blp.login_required
@blp.response(200, UserSchema)
@blp.doc(operationId="getCurrentUser")
def me():
    """Return the logged-in user."""
    return current_user
