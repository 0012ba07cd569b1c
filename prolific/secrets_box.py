"""Encryption of Prolific API tokens and webhook secrets at rest (Fernet, from `cryptography`).

The key is ``PROLIFIC_TOKEN_KEY`` (a Fernet key: 32 url-safe base64 bytes) when set, otherwise it is
derived from ``SECRET_KEY``. Deriving from SECRET_KEY means rotating SECRET_KEY makes stored tokens
unreadable; the error then says so and asks for the token to be entered again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_DERIVATION_CONTEXT = b"value-portrait/prolific-token/v1:"


class SecretUnreadable(Exception):
    """A stored secret can no longer be decrypted with the current key."""


def _fernet() -> Fernet:
    configured = getattr(settings, "PROLIFIC_TOKEN_KEY", None)
    if configured:
        try:
            return Fernet(configured.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                "PROLIFIC_TOKEN_KEY is not a valid Fernet key: generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    digest = hashlib.sha256(KEY_DERIVATION_CONTEXT + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def secret_decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The stored Prolific secret cannot be decrypted with the current key "
            "(PROLIFIC_TOKEN_KEY or SECRET_KEY changed?). Enter the token again on the study's Prolific page."
        ) from None


def secret_hint(plaintext: str) -> str:
    """What may be shown back of a secret: its last four characters only."""
    return f"…{plaintext[-4:]}" if len(plaintext) >= 8 else "…"
