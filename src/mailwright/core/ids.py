"""Identifiers: sortable ids for messages and keys, and secret tokens."""

import hashlib
import os
import secrets
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(at: datetime) -> str:
    """A 26-character ULID: 48 bits of milliseconds since the epoch, then 80 random bits."""
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_secret(prefix: str) -> str:
    """A random secret with a readable prefix (write keys, admin tokens)."""
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a string; secrets and erased addresses are stored only as this."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
