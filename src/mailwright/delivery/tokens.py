"""HMAC-signed tokens for tracked links, the open pixel, unsubscribe and confirmation links.

Delivery signs them when it builds a message; tracking verifies them when a recipient's request comes
back (DESIGN.md: the signing lives in the layer that writes the links). A token is
`<payload>.<signature>`, both base64url; the payload names its kind, so a click token can never pass as
an unsubscribe token.
"""

import base64
import hashlib
import hmac
import os
from pathlib import Path

from mailwright.core.errors import DomainError
from mailwright.core.settings import Settings

KINDS = ("open", "click", "view", "unsubscribe", "confirm", "preferences")
_SIGNATURE_BYTES = 16


class InvalidToken(DomainError):
    """A token that was not signed by this installation, was altered, or is of another kind."""

    status = 404
    code = "invalid_link"


def signing_key(settings: Settings) -> bytes:
    """The installation's HMAC key: configured, or made once and kept in `signing_key_file`."""
    if settings.signing_key is not None:
        return settings.signing_key.get_secret_value().encode("utf-8")
    path = Path(settings.signing_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"))
    return path.read_text().strip().encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, kind: str, *parts: str) -> str:
    """A token of this kind carrying these parts (none may contain a newline)."""
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    payload = "\n".join((kind, *parts)).encode("utf-8")
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(key: bytes, kind: str, token: str) -> tuple[str, ...]:
    """The parts a token of this kind carries; raises InvalidToken if it is forged, altered or another kind."""
    try:
        payload_text, mac_text = token.split(".", 1)
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidToken("this link is not valid") from exc
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise InvalidToken("this link is not valid")
    token_kind, *parts = payload.decode("utf-8").split("\n")
    if token_kind != kind:
        raise InvalidToken("this link is not valid")
    return tuple(parts)


def open_token(key: bytes, public_id: str) -> str:
    """The open pixel's token for one message."""
    return sign(key, "open", public_id)


def click_token(key: bytes, public_id: str, link_index: int) -> str:
    """A tracked link: the message and the index of the URL in its `links` (never the URL itself)."""
    return sign(key, "click", public_id, str(link_index))


def view_token(key: bytes, public_id: str) -> str:
    """The "view in browser" link of one message."""
    return sign(key, "view", public_id)


def unsubscribe_token(key: bytes, contact_id: int, public_id: str = "") -> str:
    """One-click and page unsubscribe: the contact, and the message it came from when there is one."""
    return sign(key, "unsubscribe", str(contact_id), public_id)


def preferences_token(key: bytes, contact_id: int) -> str:
    """The preference centre of one contact."""
    return sign(key, "preferences", str(contact_id))


def confirm_token(key: bytes, contact_id: int, email: str) -> str:
    """Double opt-in confirmation; bound to the address, so it stops working if the address changes."""
    return sign(key, "confirm", str(contact_id), email)
