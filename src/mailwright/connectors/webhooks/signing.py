"""The Mailwright-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe's scheme).

The timestamp is inside the signed text, so a receiver that refuses old timestamps also refuses replays.
"""

import hashlib
import hmac
import secrets

from mailwright.core.errors import Unauthorized

SIGNATURE_HEADER = "Mailwright-Signature"
# A receiver should refuse a signature older than this (replays); `verify` uses it by default.
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh endpoint secret."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value for a body sent at `timestamp` (unix seconds)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    body: bytes, header: str | None, secret: str, *, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> None:
    """Check a received header as a receiver would; Unauthorized when it is missing, wrong or too old."""
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header", field=SIGNATURE_HEADER)
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise Unauthorized(f"{SIGNATURE_HEADER} has no timestamp t=", field=SIGNATURE_HEADER) from exc
    if abs(now - timestamp) > tolerance:
        raise Unauthorized(f"{SIGNATURE_HEADER} timestamp is too old (replay?)", field=SIGNATURE_HEADER)
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body", field=SIGNATURE_HEADER)
