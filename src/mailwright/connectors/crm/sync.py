"""The CRM sync both HubSpot and Zoho run: pull changed contacts, then push computed values back.

Conflict rule, per field: the newest change wins. A pulled CRM value replaces Mailwright's when the
CRM record changed after the Mailwright profile last did (or Mailwright has no value); otherwise
Mailwright's value stays and, when that field is also pushed, it is written back to the CRM.
A pushed value is sent only when it differs from what was last sent.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from mailwright.connectors import common as c
from mailwright.connectors import repository
from mailwright.connectors.schemas import SyncReport
from mailwright.connectors.service import ConnectionData, save_progress
from mailwright.contacts import service as contacts
from mailwright.contacts.identity import normalize_country
from mailwright.core.errors import InvalidInput
from mailwright.core.jobs import UnitOfWorkFactory
from mailwright.events import vocabulary as v
from mailwright.events.schemas import IncomingEvent

# CRM updates go out in batches of this many records (HubSpot's and Zoho's batch limit).
PUSH_BATCH = 100


@dataclass(frozen=True)
class CrmRecord:
    """One CRM contact as read: its id, when it last changed, and its property values."""

    remote_id: str
    modified_at: datetime
    values: dict[str, Any]


@dataclass
class Counters:
    """Requests made and seconds waited for rate limits."""

    requests: int = 0
    waits: list[float] = field(default_factory=list)


class CrmAdapter(Protocol):
    """What a CRM module provides to the sync."""

    kind: str
    counters: Counters

    def pages(self, since: datetime | None, properties: list[str]) -> Iterator[list[CrmRecord]]:
        """Contacts changed at or after `since`, oldest change first, a page at a time."""
        ...

    def ensure_properties(self, names: list[str]) -> None:
        """Create the custom properties Mailwright writes, when missing."""
        ...

    def update(self, changes: list[tuple[str, dict[str, Any]]]) -> None:
        """Write property values to these records (at most PUSH_BATCH)."""
        ...


def _local_fields(profile: Any, target: str) -> Any:
    if target.startswith("properties."):
        return (profile.properties or {}).get(target[11:])
    return getattr(profile, target, None)


def _event(
    data: ConnectionData, record: CrmRecord, pull: dict[str, str], local: Any, report: SyncReport
) -> IncomingEvent | None:
    """The Identify event a CRM record means, keeping Mailwright's newer values (the conflict rule)."""
    email_key = next(k for k, t in pull.items() if t == "email")
    email = c.email(record.values.get(email_key), f"{data.kind}.{email_key}")
    if email is None:
        report.pulled["without_email"] = report.pulled.get("without_email", 0) + 1
        return None
    local_newer = local is not None and local.updated_at > record.modified_at
    profile: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for crm, target in pull.items():
        if target == "email":
            continue
        value = c.text(record.values.get(crm), 200)
        if value is None:
            continue
        if local_newer and _local_fields(local, target) not in (None, ""):
            report.pulled["kept_mailwright_value"] = report.pulled.get("kept_mailwright_value", 0) + 1
            continue
        if target == "country":
            value = normalize_country(value, field=f"{data.kind}.{crm}")
        if target.startswith("properties."):
            custom[target[11:]] = value
        else:
            profile[target] = value
    if custom:
        profile["properties"] = custom
    return IncomingEvent(
        message_id=f"{data.kind}:{data.id}:contact:{record.remote_id}:{record.modified_at.isoformat()}"[:200],
        type="identify",
        name=v.IDENTIFY,
        occurred_at=record.modified_at,
        source=data.kind,
        email=email,
        properties={"crm": data.kind, "crm_id": record.remote_id},
        profile=profile,
    )


def pull(open_uow: UnitOfWorkFactory, data: ConnectionData, crm: CrmAdapter, report: SyncReport) -> None:
    """Import contacts changed since the cursor, one transaction per page, moving the cursor each time."""
    pull_map: dict[str, str] = dict(data.field_mapping.get("pull") or {})
    if "email" not in pull_map.values():
        raise InvalidInput("the field mapping pulls no email", field="field_mapping.pull")
    since_raw = data.cursor.get("contacts")
    since = c.when(since_raw, "cursor.contacts") if since_raw else None
    for page in crm.pages(since, list(pull_map)):
        with open_uow() as uow:
            now = uow.now()
            found: list[tuple[CrmRecord, IncomingEvent]] = []
            for record in page:
                email_key = next(k for k, t in pull_map.items() if t == "email")
                raw_email = record.values.get(email_key)
                local = contacts.find_by_email(uow.session, str(raw_email)) if c.present(raw_email) else None
                event = _event(data, record, pull_map, local, report)
                if event is not None:
                    found.append((record, event))
            if found:
                from mailwright.events import service as events

                result = events.ingest(uow, [e for _, e in found], notify=True)
                report.events_stored += result.accepted
                report.events_unchanged += result.duplicates
            for record, event in found:
                assert event.email is not None
                profile = contacts.find_by_email(uow.session, event.email)
                if profile is not None:
                    repository.upsert_link(
                        uow.session, data.id, profile.id, record.remote_id, record.modified_at, now
                    )
            report.pulled["contacts"] = report.pulled.get("contacts", 0) + len(page)
            if page:
                newest = max(r.modified_at for r in page)
                save_progress(uow.session, data.id, {"contacts": newest.isoformat()}, error=None, now=now)
                report.cursor["contacts"] = newest.isoformat()


def _value(source: str, profile: Any, columns: dict[str, Any], predictions: Any) -> Any:
    if source in ("rfm_segment", "lifecycle_stage"):
        return columns.get(source)
    if source == "churn_risk":
        return (
            None
            if predictions is None or predictions.churn_risk is None
            else round(predictions.churn_risk, 4)
        )
    if source == "predicted_value":
        if predictions is None or predictions.predicted_revenue_minor is None:
            return None
        return round(predictions.predicted_revenue_minor / 100, 2)
    if source == "last_email_engagement":
        times = [t for t in (columns.get("last_open_at"), columns.get("last_click_at")) if t is not None]
        return max(times).isoformat() if times else None
    return getattr(profile, source, None)


def push(open_uow: UnitOfWorkFactory, data: ConnectionData, crm: CrmAdapter, report: SyncReport) -> None:
    """Write Mailwright's computed values of linked contacts to the CRM when they changed since last sent."""
    push_map: dict[str, str] = dict(data.field_mapping.get("push") or {})
    if not push_map:
        return
    changes: list[tuple[int, str, dict[str, Any]]] = []
    with open_uow() as uow:
        links = repository.links_of(uow.session, data.id)
        columns = repository.computed_columns(uow.session, [link.contact_id for link in links])
        for link in links:
            profile = contacts.get_profile(uow.session, link.contact_id)
            predictions = contacts.get_predictions(uow.session, link.contact_id)
            values = {
                crm_name: _value(source, profile, columns.get(link.contact_id, {}), predictions)
                for source, crm_name in push_map.items()
            }
            changed = {k: val for k, val in values.items() if val is not None and link.pushed.get(k) != val}
            if changed:
                changes.append((link.id, link.remote_id, changed))
    if not changes:
        return
    crm.ensure_properties(sorted(set(push_map.values())))
    for start in range(0, len(changes), PUSH_BATCH):
        chunk = changes[start : start + PUSH_BATCH]
        crm.update([(remote_id, values) for _, remote_id, values in chunk])
        with open_uow() as uow:
            for link in repository.links_of(uow.session, data.id):
                for link_id, _, values in chunk:
                    if link.id == link_id:
                        link.pushed = {**link.pushed, **values}
                        link.pushed_at = uow.now()
        report.pushed += len(chunk)


def run(open_uow: UnitOfWorkFactory, data: ConnectionData, crm: CrmAdapter, report: SyncReport) -> None:
    """Pull, then push; the counters end up in the report even when a step fails."""
    try:
        pull(open_uow, data, crm, report)
        push(open_uow, data, crm, report)
    finally:
        report.requests += crm.counters.requests
        report.waited_seconds += sum(crm.counters.waits)
