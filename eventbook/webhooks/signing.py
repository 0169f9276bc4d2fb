"""Webhook secrets and signatures, per the Standard Webhooks specification.

A secret is `whsec_` + the base64 of 32 random bytes; the bytes are the
HMAC-SHA256 key. It is shown once, when the subscription is created, and
stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under a key derived
from `SECRET_KEY` with HKDF-SHA256, so a copy of the database alone does not
give the secrets away. Changing `SECRET_KEY` makes stored secrets unreadable:
deliveries then fail until each subscription is created again.
"""

import base64
import hashlib
import json
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted (SECRET_KEY changed since)."""


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _fernet():
    key = current_app.config["SECRET_KEY"].encode()
    salt = hashlib.sha256(b"eventbook webhook secrets").digest()
    derived = HKDF(algorithm=SHA256(), length=32, salt=salt, info=b"webhook-secret").derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret):
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(encrypted):
    """:raises SecretUnreadable:"""
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the signing secret cannot be decrypted with SECRET_KEY") from None


def payload(change):
    """Return the body of a change's delivery: `{type, timestamp, data}` as JSON text."""
    body = {"type": change.type, "timestamp": change.created_at.isoformat(), "data": change.data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret, message_id, body, sent_at: datetime):
    """Return the Standard Webhooks headers of one attempt.

    `webhook-signature` is `v1,` + base64 HMAC-SHA256 of
    `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the secret's bytes.
    """
    return {
        "webhook-id": str(message_id),
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(str(message_id), sent_at, body),
    }
