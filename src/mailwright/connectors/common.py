"""Reading other systems' payloads: each helper names the payload path at fault when a value is wrong."""

from collections.abc import Sequence
from typing import Any

from mailwright.connectors.schemas import SyncReport
from mailwright.contacts.identity import normalize_country
from mailwright.core.errors import InvalidInput
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.events import service as events
from mailwright.events.payload import (  # the shared readers, re-exported for the connectors
    email,
    ident,
    money,
    number,
    objects,
    present,
    required,
    text,
    verify_base64_hmac,
    when,
)
from mailwright.events.schemas import IncomingEvent

__all__ = [
    "email",
    "ident",
    "money",
    "number",
    "obj",
    "objects",
    "place",
    "present",
    "required",
    "store_events",
    "text",
    "verify_base64_hmac",
    "when",
]


def obj(payload: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """A nested object ({} when absent)."""
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must be an object", field=path)
    return value


def place(address: dict[str, Any], path: str, country_key: str = "country") -> dict[str, Any]:
    """Country and city profile columns from an address."""
    fields: dict[str, Any] = {}
    country = address.get(country_key)
    if present(country):
        fields["country"] = normalize_country(str(country), field=f"{path}.{country_key}")
    city = text(address.get("city"))
    if city:
        fields["city"] = city
    return fields


def store_events(
    open_uow: UnitOfWorkFactory, batch: Sequence[IncomingEvent], report: SyncReport, *, notify: bool = True
) -> None:
    """Ingest one page of a pull in its own transaction and count what was new."""
    if not batch:
        return
    with open_uow() as uow:
        result = events.ingest(uow, list(batch), notify=notify)
    report.events_stored += result.accepted
    report.events_unchanged += result.duplicates
