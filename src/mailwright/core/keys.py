"""Write keys for ingestion and admin tokens for the management API."""

import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.core.errors import InvalidInput, Unauthorized
from mailwright.core.ids import new_secret, sha256_hex
from mailwright.core.models import ApiKey

KINDS = ("write", "admin")


def create_key(session: Session, *, kind: str, name: str, now: datetime) -> str:
    """Create a key and return its secret; only its hash is stored, so it is shown this once."""
    if kind not in KINDS:
        raise InvalidInput(f"key kind must be one of {KINDS}", field="kind")
    secret = new_secret("mwk" if kind == "write" else "mwa")
    session.add(
        ApiKey(kind=kind, name=name, prefix=secret[:8], secret_hash=sha256_hex(secret), created_at=now)
    )
    return secret


def verify_key(
    session: Session, secret: str, *, kind: str, env_admin_token: str | None = None
) -> ApiKey | None:
    """The live key of this kind matching the secret; raises Unauthorized otherwise."""
    if not secret:
        raise Unauthorized(f"missing {'write key' if kind == 'write' else 'admin token'}")
    if kind == "admin" and env_admin_token and hmac.compare_digest(secret, env_admin_token):
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.secret_hash == sha256_hex(secret))).first()
    if key is None or key.kind != kind or key.revoked_at is not None:
        raise Unauthorized(f"unknown or revoked {'write key' if kind == 'write' else 'admin token'}")
    return key
