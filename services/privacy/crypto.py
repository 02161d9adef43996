"""The cryptography of personal data. Pure: no I/O.

- The **master key** (`SADA_MASTER_KEY`): 32 random bytes, written in base64. Two keys are
  derived from it with HKDF-SHA256, one per purpose: the *wrapping key*, which encrypts each
  requester's data key in the key store, and the *lookup key*, an HMAC key that turns a phone
  number or national code into an opaque lookup id (so the key store never holds them).
- A requester's **data key**: 32 random bytes (AES-256-GCM), one per requester.
- A **key-encryption key** (KEK): 32 random bytes that wrap requesters' data keys. It is
  replaced on a schedule and the old one destroyed (`rotation.py`), so a copy of a wrapped
  key kept anywhere (MongoDB's oplog, a backup) outlives no rotation. KEKs are kept, each
  wrapped under the master key, outside MongoDB (`keks.py`).
- A **sealed** value: `v1.` + base64url(nonce ‖ ciphertext ‖ tag), AES-GCM with a 96-bit
  random nonce. Associated data binds each ciphertext to where it belongs (the requester and
  the demand; for a wrapped key, the requester), so it cannot be moved elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidTag", "MasterKey", "MasterKeyError", "new_data_key", "new_master_key",
           "open_sealed", "seal", "unwrap_under_kek", "wrap_under_kek"]

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1."
_WRAP_INFO = b"sada/keystore-wrap/v1"
_LOOKUP_INFO = b"sada/requester-lookup/v1"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed, or not the one the key store was made with."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    text = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_master_key() -> str:
    """A fresh master key, as SADA_MASTER_KEY takes it (base64url, 43 characters)."""
    return _b64encode(os.urandom(KEY_BYTES))


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return PREFIX + _b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def open_sealed(key: bytes, token: str, aad: bytes) -> bytes:
    """The plaintext of a sealed value; InvalidTag if the key, the data or `aad` differ."""
    if not token.startswith(PREFIX):
        raise InvalidTag()
    try:
        raw = _b64decode(token[len(PREFIX):])
    except (binascii.Error, ValueError):
        raise InvalidTag() from None
    if len(raw) <= NONCE_BYTES:
        raise InvalidTag()
    return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


@dataclass(frozen=True, repr=False)
class MasterKey:
    wrap_key: bytes
    lookup_key: bytes

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parse SADA_MASTER_KEY; MasterKeyError, saying what to do, if it is unusable."""
        if not text or not text.strip():
            raise MasterKeyError(
                "SADA_MASTER_KEY must be set: it opens the key store of requesters' personal "
                "data (`sada run` keeps one in its data dir; see README, Security). Without the "
                "key that made the key store, no personal data can be read")
        try:
            raw = _b64decode(text)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(
                f"SADA_MASTER_KEY must be {KEY_BYTES} random bytes in base64 (e.g. "
                "`python -c 'import secrets, base64; "
                "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'`)")
        return cls(_derive(raw, _WRAP_INFO), _derive(raw, _LOOKUP_INFO))

    def __repr__(self) -> str:
        return "MasterKey(…)"

    def wrap(self, data_key: bytes, requester_id: str) -> str:
        return seal(self.wrap_key, data_key, b"sada/requester-key/" + requester_id.encode())

    def unwrap(self, wrapped: str, requester_id: str) -> bytes:
        return open_sealed(self.wrap_key, wrapped, b"sada/requester-key/" + requester_id.encode())

    def wrap_kek(self, kek: bytes, kek_id: str) -> str:
        return seal(self.wrap_key, kek, b"sada/kek/" + kek_id.encode())

    def unwrap_kek(self, wrapped: str, kek_id: str) -> bytes:
        return open_sealed(self.wrap_key, wrapped, b"sada/kek/" + kek_id.encode())

    def lookup_id(self, kind: str, value: str) -> str:
        """An opaque, stable id for a phone number or national code (HMAC-SHA256)."""
        mac = hmac.new(self.lookup_key, f"{kind}\x1f{value}".encode(), hashlib.sha256)
        return f"{kind}:{mac.hexdigest()}"


def _kek_aad(requester_id: str, kek_id: str) -> bytes:
    return f"sada/requester-key/{requester_id}/kek/{kek_id}".encode()


def wrap_under_kek(kek: bytes, kek_id: str, data_key: bytes, requester_id: str) -> str:
    """A requester's data key wrapped under a KEK, bound to the requester and the KEK's id."""
    return seal(kek, data_key, _kek_aad(requester_id, kek_id))


def unwrap_under_kek(kek: bytes, kek_id: str, wrapped: str, requester_id: str) -> bytes:
    return open_sealed(kek, wrapped, _kek_aad(requester_id, kek_id))
