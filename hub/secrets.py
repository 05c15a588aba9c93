"""Secrets at rest: AES-GCM under a key derived from ``JUNBAN_SECRET`` (design "Secrets at rest").

A sealed secret is ``v1.{key id}.{base64url(nonce ‖ ciphertext ‖ tag)}``: a random 96-bit
nonce, AES-256-GCM with the owning key's name as associated data (a ciphertext moved to
another endpoint does not open), the key derived by HKDF-SHA256 (``info`` =
``junban secrets v1``) from ``JUNBAN_SECRET``. The key id (8 characters of the key's
SHA-256) says which secret sealed it: after a rotation, ``JUNBAN_SECRET_PREVIOUS`` still
opens the old ones, and ``needs_reseal`` tells the owner to seal them again.

The process's keys are set once by ``configure`` (hub/app.py, hub/cli.py); the module-level
``seal`` / ``unseal`` use them. Secrets are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
INFO = b"junban secrets v1"
NONCE_BYTES = 12


def derive(secret: str) -> bytes:
    """The 256-bit sealing key of ``secret`` (HKDF-SHA256, no salt, the fixed ``info``)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())


def key_id(key: bytes) -> str:
    """A short public name of a sealing key (not the key: 48 bits of its SHA-256)."""
    return base64.urlsafe_b64encode(hashlib.sha256(key).digest()[:6]).decode()


class Sealer:
    """Seals with the current secret's key; opens with the current or the previous one."""

    def __init__(self, current: str, previous: str | None = None) -> None:
        self._keys: dict[str, bytes] = {}
        key = derive(current)
        self.current_id = key_id(key)
        self._keys[self.current_id] = key
        if previous:
            old = derive(previous)
            self._keys.setdefault(key_id(old), old)

    def seal(self, aad: str, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(
            nonce, plaintext.encode(), aad.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self.current_id}.{body}"

    def unseal(self, aad: str, token: str) -> str | None:
        """The plaintext, or None when no key this process holds opens ``token`` for ``aad``
        (a changed JUNBAN_SECRET, another owner's ciphertext, a damaged token)."""
        version, _, rest = token.partition(".")
        kid, _, body = rest.partition(".")
        key = self._keys.get(kid)
        if version != VERSION or key is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if len(raw) < NONCE_BYTES + 16:
                return None
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode())
            return plain.decode()
        except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
            return None

    def needs_reseal(self, token: str) -> bool:
        """True when ``token`` was sealed under a key other than the current one."""
        return token.split(".", 2)[1:2] != [self.current_id]


_sealer: Sealer | None = None


def configure(current: str, previous: str | None = None) -> Sealer:
    """Set the process's sealing keys (the composition root calls this once)."""
    global _sealer
    _sealer = Sealer(current, previous)
    return _sealer


def sealer() -> Sealer:
    if _sealer is None:
        raise RuntimeError("hub.secrets.configure() was not called")
    return _sealer


def seal(aad: str, plaintext: str) -> str:
    """``plaintext`` sealed for the owner named ``aad`` (e.g. the endpoint's Redis key)."""
    return sealer().seal(aad, plaintext)


def unseal(aad: str, token: str) -> str | None:
    """The plaintext of ``token`` for ``aad``, or None when unreadable (要再設定)."""
    return sealer().unseal(aad, token)


def needs_reseal(token: str) -> bool:
    return sealer().needs_reseal(token)
