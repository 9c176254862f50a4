"""Reading store payloads (Shopify here, other stores in connectors): each helper names the path at fault."""

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mailwright.contacts.identity import normalize_email
from mailwright.core.clock import ensure_utc
from mailwright.core.errors import InvalidInput, Unauthorized
from mailwright.core.money import to_minor


def verify_base64_hmac(raw: bytes, header: str | None, secret: str, header_name: str) -> None:
    """Check a base64 HMAC-SHA256 of the raw body (Shopify, WooCommerce); Unauthorized if it differs."""
    if not header:
        raise Unauthorized(f"missing {header_name} header", field=header_name)
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized(f"{header_name} is not valid base64", field=header_name) from exc
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise Unauthorized(f"{header_name} does not match the body signed with the secret", field=header_name)


def present(value: Any) -> bool:
    """Not None and not an empty string."""
    return value is not None and value != ""


def required(payload: dict[str, Any], key: str, path: str) -> Any:
    """A value that must be there."""
    value = payload.get(key)
    if not present(value):
        raise InvalidInput(f"{path} is required", field=path)
    return value


def ident(value: Any, path: str) -> str:
    """An id (number or string) as text."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise InvalidInput(f"{path} must be an id (number or string)", field=path)
    return str(value).strip()[:200]


def optional_ident(value: Any, path: str) -> str | None:
    """An id as text, None when absent."""
    return ident(value, path) if present(value) else None


def text(value: Any, limit: int = 200) -> str | None:
    """A trimmed string, or None when empty."""
    if not present(value):
        return None
    return str(value).strip()[:limit] or None


def objects(payload: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[dict[str, Any]]:
    """A list of objects ([] when absent, unless required)."""
    value = payload.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{path} is required", field=path)
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{path} must be a list", field=path)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidInput(f"{path}[{i}] must be an object", field=f"{path}[{i}]")
    return value


def when(value: Any, path: str) -> datetime | None:
    """An ISO 8601 or "YYYY-MM-DD HH:MM:SS" time; naive values are UTC (WooCommerce *_gmt, Magento)."""
    if not present(value):
        return None
    raw = str(value).strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return ensure_utc(datetime.fromisoformat(raw))
    except ValueError as exc:
        raise InvalidInput(f"{path} must be an ISO 8601 timestamp, got {value!r}", field=path) from exc


def money(value: Any, currency: str, path: str) -> int | None:
    """An amount in major units as minor units, None when absent."""
    return None if not present(value) else to_minor(value, currency, field=path)


def number(value: Any) -> float | None:
    """A number for event properties (the Segment spec's numbers), None when absent or unreadable."""
    if not present(value):
        return None
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def email(value: Any, path: str) -> str | None:
    """A normalized email address, None when absent."""
    return normalize_email(str(value), field=path) if present(value) else None
