from marshmallow import ValidationError, fields, post_load
from marshmallow.validate import Email, Length

from eventbook.auth.normalization import normalize_email, password_bytes
from eventbook.schemas import ByteLength, Schema, String, Text, byte_length_doc, reject_nul, text


class EmailAddress(Text):
    """An email address, in the one form it is stored and compared in (`normalize_email`)."""

    def __init__(self, metadata=None, **kwargs):
        metadata = {"format": "email", **(metadata or {})}
        super().__init__(validate=[Length(max=255), Email()], metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalize_email(super()._deserialize(value, attr, data, **kwargs))
        except ValueError:
            raise ValidationError("Not a valid email address.") from None


def hashable_password(value):
    """Refuse a new password whose normalised form bcrypt cannot hash (8 to 72 bytes)."""
    reject_nul(value)
    try:
        size = len(password_bytes(value))
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode text.") from None
    if not 8 <= size <= 72:
        raise ValidationError("Length must be between 8 and 72 bytes in UTF-8.")
    return value


def password_to_set(metadata=None, **kwargs):
    """Return a field for a new password: 8 to 72 bytes once normalised (NFKC)."""
    metadata = byte_length_doc(8, 72, metadata)
    metadata["description"] += " Compared in Unicode NFKC form."
    return String(
        required=True, load_only=True, validate=hashable_password, metadata=metadata, **kwargs
    )


def presented_password(metadata=None, **kwargs):
    """Return a field for a password to check: anything bcrypt can hash."""
    return String(
        required=True,
        load_only=True,
        validate=ByteLength(1, 72),
        metadata=byte_length_doc(1, 72, metadata),
        **kwargs,
    )


REGISTER_EXAMPLE = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": "correct-horse-battery",
}
LOGIN_EXAMPLE = {"email": "user1@test.com", "password": "password123"}
# What a refresh token looks like; send the one /auth/login or /auth/refresh gave.
EXAMPLE_REFRESH_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwidHlwZSI6InJlZnJlc2gifQ."
    "c2lnbmF0dXJlLW9mLXRoZS1yZWZyZXNoLXRva2Vu"
)
REFRESH_EXAMPLE = {"refresh_token": EXAMPLE_REFRESH_TOKEN}
LOGOUT_EXAMPLE = {"refresh_token": EXAMPLE_REFRESH_TOKEN}
PASSWORD_CHANGE_EXAMPLE = {
    "current_password": "correct-horse-battery",
    "new_password": "new-horse-battery-staple",
}


class RegisterSchema(Schema):
    name = text(1, 100, required=True, metadata={"example": "Ada Lovelace"})
    email = EmailAddress(required=True, metadata={"example": "ada@example.com"})
    password = password_to_set(metadata={"example": "correct-horse-battery"})


class UserSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 6})
    name = fields.String(dump_only=True, metadata={"example": "Ada Lovelace"})
    email = fields.String(dump_only=True, metadata={"example": "ada@example.com"})
    created_at = fields.DateTime(
        dump_only=True, metadata={"example": "2026-11-24T09:30:00.123456+00:00"}
    )


class LoginSchema(Schema):
    email = Text(required=True, validate=Length(1, 255), metadata={"example": "user1@test.com"})
    password = presented_password(metadata={"example": "password123"})

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = normalize_email(data["email"], strict=False)
        return data


class PasswordChangeSchema(Schema):
    current_password = presented_password(metadata={"example": "correct-horse-battery"})
    new_password = password_to_set(metadata={"example": "new-horse-battery-staple"})


class TokenSchema(Schema):
    access_token = fields.String(
        dump_only=True, metadata={"description": "Send as `Authorization: Bearer <access_token>`."}
    )
    refresh_token = fields.String(
        dump_only=True, metadata={"description": "Exchange at `POST /auth/refresh`; used once."}
    )
    token_type = fields.String(dump_only=True, metadata={"example": "bearer"})
    expires_in = fields.Integer(
        dump_only=True,
        metadata={"description": "Lifetime of the access token in seconds.", "example": 900},
    )


def refresh_token_field(**kwargs):
    return String(validate=Length(1, 4096), **kwargs)


class RefreshSchema(Schema):
    refresh_token = refresh_token_field(required=True)


class LogoutSchema(Schema):
    refresh_token = refresh_token_field(
        metadata={"description": "Also revoke the login this refresh token belongs to."}
    )
