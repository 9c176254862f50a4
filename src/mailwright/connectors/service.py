"""Connections to other stores and CRMs: configuration, the mapping shown before the first sync, and syncs."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailwright.connectors.http import HttpOptions, default_options
from mailwright.connectors.models import CONNECTION_KINDS, Connection
from mailwright.connectors.schemas import ConnectionIn, ConnectionOut, ConnectionPatch, MappingRow, SyncReport
from mailwright.core.errors import Conflict, DomainError, InvalidInput, NotFound
from mailwright.core.jobs import UnitOfWorkFactory

# Config keys each kind needs, and which of them are secrets (masked when shown).
REQUIRED_CONFIG: dict[str, tuple[tuple[str, ...], ...]] = {
    "woocommerce": (("url",), ("consumer_key",), ("consumer_secret",)),
    "magento": (("url",), ("token",)),
    "hubspot": (("token", "refresh_token"),),
    "zoho": (("client_id",), ("client_secret",), ("refresh_token",)),
}
URL_KEYS = ("url", "base_url", "accounts_url", "api_domain")
_SECRET_WORDS = ("secret", "token", "password", "key")
# Kinds pulled on the schedule (WooCommerce pushes webhooks; its backfill is run by hand).
SCHEDULED_KINDS = ("magento", "hubspot", "zoho")
CRM_KINDS = ("hubspot", "zoho")


@dataclass(frozen=True)
class ConnectionData:
    """A connection as a connector module reads it (plain data, secrets included)."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    field_mapping: dict[str, Any]
    cursor: dict[str, Any]
    mapping_confirmed_at: datetime | None


def mask(config: dict[str, Any]) -> dict[str, Any]:
    """The config with secrets reduced to their last four characters."""
    shown: dict[str, Any] = {}
    for key, value in config.items():
        if any(word in key.lower() for word in _SECRET_WORDS) and isinstance(value, str) and value:
            shown[key] = "****" + value[-4:] if len(value) > 8 else "****"
        else:
            shown[key] = value
    return shown


def _out(row: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        config=mask(row.config),
        field_mapping=row.field_mapping,
        enabled=row.enabled,
        cursor=row.cursor,
        last_synced_at=row.last_synced_at,
        last_error=row.last_error,
        mapping_confirmed_at=row.mapping_confirmed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _data(row: Connection) -> ConnectionData:
    return ConnectionData(
        id=row.id,
        name=row.name,
        kind=row.kind,
        config=dict(row.config),
        field_mapping=dict(row.field_mapping),
        cursor=dict(row.cursor),
        mapping_confirmed_at=row.mapping_confirmed_at,
    )


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config with URLs normalized; InvalidInput naming the missing or wrong key."""
    if kind not in CONNECTION_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CONNECTION_KINDS)}, got {kind!r}", field="kind")
    for group in REQUIRED_CONFIG[kind]:
        if not any(str(config.get(k) or "").strip() for k in group):
            raise InvalidInput(
                f"a {kind} connection needs config.{' or config.'.join(group)}", field=f"config.{group[0]}"
            )
    for key in URL_KEYS:
        if config.get(key):
            parts = urlsplit(str(config[key]))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(
                    f"config.{key} must be an http(s) URL, got {config[key]!r}", field=f"config.{key}"
                )
            config[key] = str(config[key]).rstrip("/")
    return config


def _default_mapping(kind: str) -> dict[str, Any]:
    if kind not in CRM_KINDS:
        return {}
    from mailwright.connectors.crm.mapping import default_mapping

    return default_mapping(kind)


def _row(session: Session, name: str) -> Connection:
    row = session.scalars(select(Connection).where(Connection.name == name)).first()
    if row is None:
        raise NotFound(f"no connection named {name!r}", field="name")
    return row


def create_connection(session: Session, data: ConnectionIn, now: datetime) -> ConnectionOut:
    """Configure a new connection (its CRM field mapping starts from the defaults)."""
    if session.scalars(select(Connection.id).where(Connection.name == data.name)).first() is not None:
        raise Conflict(f"a connection named {data.name!r} exists already", field="name")
    config = check_config(data.kind, dict(data.config))
    mapping = data.field_mapping if data.field_mapping is not None else _default_mapping(data.kind)
    if data.kind in CRM_KINDS:
        from mailwright.connectors.crm.mapping import check_mapping

        mapping = check_mapping(mapping)
    row = Connection(
        name=data.name,
        kind=data.kind,
        config=config,
        field_mapping=mapping,
        enabled=data.enabled,
        cursor={},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _out(row)


def update_connection(session: Session, name: str, patch: ConnectionPatch, now: datetime) -> ConnectionOut:
    """Change a connection's config (merged key by key), mapping or enabled flag."""
    row = _row(session, name)
    if patch.config is not None:
        row.config = check_config(row.kind, {**row.config, **patch.config})
    if patch.field_mapping is not None:
        from mailwright.connectors.crm.mapping import check_mapping

        row.field_mapping = check_mapping(patch.field_mapping)
        # A new mapping must be looked at again before it is used.
        row.mapping_confirmed_at = None
    if patch.enabled is not None:
        row.enabled = patch.enabled
    row.updated_at = now
    return _out(row)


def get_connection(session: Session, name: str) -> ConnectionOut:
    """One connection, secrets masked."""
    return _out(_row(session, name))


def connection_data(session: Session, name: str) -> ConnectionData:
    """One connection with its secrets, for a connector module."""
    return _data(_row(session, name))


def list_connections(session: Session) -> list[ConnectionOut]:
    """Every connection, by name."""
    return [_out(r) for r in session.scalars(select(Connection).order_by(Connection.name))]


def delete_connection(session: Session, name: str) -> None:
    """Forget a connection (its CRM links go with it; the data it brought in stays)."""
    row = _row(session, name)
    session.execute(delete(Connection).where(Connection.id == row.id))


def mapping_rows(session: Session, name: str) -> list[MappingRow]:
    """The field mapping of a CRM connection as rows to show before the first sync."""
    row = _row(session, name)
    if row.kind not in CRM_KINDS:
        raise InvalidInput(f"{name} is a {row.kind} connection: only CRMs have a field mapping", field="name")
    from mailwright.connectors.crm.mapping import rows

    return rows(row.field_mapping)


def confirm_mapping(session: Session, name: str, now: datetime) -> ConnectionOut:
    """Record that the mapping was shown and accepted; the first sync waits for this."""
    row = _row(session, name)
    row.mapping_confirmed_at = now
    row.updated_at = now
    return _out(row)


def save_progress(
    session: Session,
    connection_id: int,
    cursor: dict[str, Any],
    *,
    error: str | None,
    now: datetime,
    finished: bool = False,
) -> None:
    """Store where a sync got to (after each page, so a failure resumes there) and its last error."""
    row = session.get(Connection, connection_id)
    if row is None:
        return
    row.cursor = {**row.cursor, **cursor}
    row.last_error = error
    if finished and error is None:
        row.last_synced_at = now
    row.updated_at = now


def save_config(session: Session, connection_id: int, changes: dict[str, Any], now: datetime) -> None:
    """Store refreshed credentials (an OAuth access token and its expiry)."""
    row = session.get(Connection, connection_id)
    if row is not None:
        row.config = {**row.config, **changes}
        row.updated_at = now


Syncer = Callable[[UnitOfWorkFactory, ConnectionData, HttpOptions, SyncReport], None]


def _syncer(kind: str) -> Syncer:
    # Imported when used: each connector module pulls in its own mapping code.
    if kind == "woocommerce":
        from mailwright.connectors import woocommerce

        return woocommerce.backfill
    if kind == "magento":
        from mailwright.connectors import magento

        return magento.sync
    if kind == "hubspot":
        from mailwright.connectors.crm import hubspot

        return hubspot.sync
    from mailwright.connectors.crm import zoho

    return zoho.sync


def sync_connection(
    open_uow: UnitOfWorkFactory, name: str, *, options: HttpOptions | None = None, raise_errors: bool = False
) -> SyncReport:
    """Run one connection's pull (and CRM push) from its cursor; the error, if any, is stored and reported."""
    with open_uow() as uow:
        data = connection_data(uow.session, name)
        report = SyncReport(connection=name, kind=data.kind, started_at=uow.now(), cursor=data.cursor)
    if data.kind in CRM_KINDS and data.mapping_confirmed_at is None:
        raise InvalidInput(
            f"look at the field mapping of {name} first: `mailwright connect show {name}`, "
            f"then `mailwright connect confirm {name}`",
            field="field_mapping",
        )
    try:
        _syncer(data.kind)(open_uow, data, options or default_options(), report)
    except DomainError as exc:
        report.error = exc.message
        with open_uow() as uow:
            save_progress(uow.session, data.id, {}, error=exc.message, now=uow.now())
        if raise_errors:
            raise
        return report
    with open_uow() as uow:
        save_progress(uow.session, data.id, {}, error=None, now=uow.now(), finished=True)
        report.cursor = connection_data(uow.session, name).cursor
    return report


def sync_scheduled(open_uow: UnitOfWorkFactory, options: HttpOptions | None = None) -> list[SyncReport]:
    """Pull every enabled Magento, HubSpot and Zoho connection whose first sync was run by hand.

    The first sync is the user's (`mailwright connect sync NAME`): it shows what the connection brings
    in, and for a CRM it comes after the mapping was confirmed; the schedule carries on from its cursor.
    """
    with open_uow() as uow:
        names = [
            r.name
            for r in uow.session.scalars(select(Connection).where(Connection.enabled.is_(True)))
            if r.kind in SCHEDULED_KINDS
            and r.last_synced_at is not None
            and (r.kind not in CRM_KINDS or r.mapping_confirmed_at is not None)
        ]
    return [sync_connection(open_uow, name, options=options) for name in names]
