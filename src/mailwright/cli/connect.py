"""`mailwright connect ...`: configure WooCommerce, Magento, HubSpot and Zoho, see the mapping, sync."""

from typing import Annotated, Any

import typer
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.connectors import service
from mailwright.connectors.crm.mapping import check_mapping, default_mapping, rows
from mailwright.connectors.schemas import ConnectionIn, ConnectionOut, ConnectionPatch, MappingRow, SyncReport
from mailwright.core.errors import InvalidInput

connect_app = typer.Typer(help="Connections to stores and CRMs.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Check and show what would be stored (and the mapping); save nothing."),
]
NameArg = Annotated[str, typer.Argument(help="A short name for the connection (used by sync and URLs).")]
CurrencyOption = Annotated[str | None, typer.Option("--currency", help="Currency of the store's prices.")]
PullOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map-pull", help="CRM property to Mailwright field: lifecyclestage=properties.stage (repeatable)."
    ),
]
PushOption = Annotated[
    list[str] | None,
    typer.Option("--map-push", help="Mailwright value to CRM property: rfm_segment=mw_rfm (repeatable)."),
]


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        left, sep, right = item.partition("=")
        if not sep or not left.strip():
            raise InvalidInput(f"{option} {item!r} must look like name=value", field=option)
        found[left.strip()] = right.strip()
    return found


def _mapping(kind: str, pull: list[str] | None, push: list[str] | None) -> dict[str, Any] | None:
    if not pull and not push:
        return None
    mapping = default_mapping(kind)
    for crm, target in _pairs(pull, "--map-pull").items():
        if target:
            mapping["pull"][crm] = target
        else:
            mapping["pull"].pop(crm, None)  # "crm=" drops an entry
    for source, crm in _pairs(push, "--map-push").items():
        if crm:
            mapping["push"][source] = crm
        else:
            mapping["push"].pop(source, None)
    return check_mapping(mapping)


def render_mapping(mapping_rows: list[MappingRow]) -> None:
    """The field mapping as a table."""
    table = Table(title="Field mapping (newest change wins per field)")
    for column in ("direction", "CRM property", "Mailwright field"):
        table.add_column(column)
    for row in mapping_rows:
        table.add_row(row.direction, row.crm_property, row.mailwright_field)
    console.print(table)


def _configure(
    name: str,
    kind: str,
    config: dict[str, Any],
    *,
    mapping: dict[str, Any] | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    config = {k: v for k, v in config.items() if v is not None}
    runtime = build_runtime()
    with domain_errors():
        if dry_run:
            checked = service.mask(service.check_config(kind, dict(config)))
            shown = mapping or (default_mapping(kind) if kind in service.CRM_KINDS else {})
            if as_json:
                print_json(
                    {"name": name, "kind": kind, "config": checked, "field_mapping": shown, "dry_run": True}
                )
                return
            console.print(f"would configure {kind} connection {name}: {checked} (dry run: nothing saved)")
            if shown:
                render_mapping(rows(shown))
            return
        with runtime.uow() as uow:
            existing = {c.name: c for c in service.list_connections(uow.session)}.get(name)
            if existing is None:
                out = service.create_connection(
                    uow.session,
                    ConnectionIn(name=name, kind=kind, config=config, field_mapping=mapping),
                    uow.now(),
                )
            elif existing.kind != kind:
                raise InvalidInput(f"{name} is a {existing.kind} connection, not {kind}", field="name")
            else:
                out = service.update_connection(
                    uow.session, name, ConnectionPatch(config=config, field_mapping=mapping), uow.now()
                )
            shown_rows = service.mapping_rows(uow.session, name) if kind in service.CRM_KINDS else []
    if as_json:
        print_json({"connection": out, "mapping": shown_rows})
        return
    console.print(f"{kind} connection [bold]{name}[/bold] saved (secrets are stored in the database).")
    if kind == "woocommerce":
        console.print(
            f"Webhook delivery URL: {runtime.settings.public_url}/webhooks/woocommerce/{name} "
            "(topics order.*, customer.*, product.*; same secret as --webhook-secret)",
            highlight=False,
        )
    if shown_rows:
        render_mapping(shown_rows)
        console.print(f"Check it, then: mailwright connect confirm {name} && mailwright connect sync {name}")


@connect_app.command("woocommerce")
def connect_woocommerce(
    name: NameArg,
    url: Annotated[
        str | None, typer.Option("--url", help="The shop's address, https://shop.example.com.")
    ] = None,
    consumer_key: Annotated[str | None, typer.Option("--consumer-key", help="REST API key (ck_...).")] = None,
    consumer_secret: Annotated[
        str | None, typer.Option("--consumer-secret", help="REST API secret (cs_...).")
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option("--webhook-secret", help="Secret of the webhooks.")
    ] = None,
    currency: CurrencyOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Configure a WooCommerce shop: webhooks for live data, the REST API for the history (sync)."""
    config = {
        "url": url,
        "consumer_key": consumer_key,
        "consumer_secret": consumer_secret,
        "webhook_secret": webhook_secret,
        "currency": currency,
    }
    _configure(name, "woocommerce", config, mapping=None, dry_run=dry_run, as_json=as_json)


@connect_app.command("magento")
def connect_magento(
    name: NameArg,
    url: Annotated[str | None, typer.Option("--url", help="The store's base URL.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Integration access token (bearer).")] = None,
    currency: CurrencyOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Configure a Magento 2 / Adobe Commerce store, pulled incrementally on a schedule."""
    config = {"url": url, "token": token, "currency": currency}
    _configure(name, "magento", config, mapping=None, dry_run=dry_run, as_json=as_json)


@connect_app.command("hubspot")
def connect_hubspot(
    name: NameArg,
    token: Annotated[str | None, typer.Option("--token", help="Private app access token.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="OAuth app client id.")] = None,
    client_secret: Annotated[
        str | None, typer.Option("--client-secret", help="OAuth app client secret.")
    ] = None,
    refresh_token: Annotated[str | None, typer.Option("--refresh-token", help="OAuth refresh token.")] = None,
    map_pull: PullOption = None,
    map_push: PushOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Configure HubSpot (a private app token, or OAuth); the field mapping is shown before the first sync."""
    config = {
        "token": token,
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    with domain_errors():
        mapping = _mapping("hubspot", map_pull, map_push)
    _configure(name, "hubspot", config, mapping=mapping, dry_run=dry_run, as_json=as_json)


@connect_app.command("zoho")
def connect_zoho(
    name: NameArg,
    client_id: Annotated[str | None, typer.Option("--client-id", help="Zoho API console client id.")] = None,
    client_secret: Annotated[str | None, typer.Option("--client-secret", help="Client secret.")] = None,
    refresh_token: Annotated[str | None, typer.Option("--refresh-token", help="OAuth refresh token.")] = None,
    accounts_url: Annotated[
        str | None,
        typer.Option("--accounts-url", help="Your data centre's accounts URL (https://accounts.zoho.eu)."),
    ] = None,
    map_pull: PullOption = None,
    map_push: PushOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Configure Zoho CRM (OAuth refresh token); the field mapping is shown before the first sync."""
    config = {
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "accounts_url": accounts_url,
    }
    with domain_errors():
        mapping = _mapping("zoho", map_pull, map_push)
    _configure(name, "zoho", config, mapping=mapping, dry_run=dry_run, as_json=as_json)


def _render(connection: ConnectionOut) -> None:
    state = "enabled" if connection.enabled else "disabled"
    synced = connection.last_synced_at.isoformat() if connection.last_synced_at else "never"
    console.print(f"{connection.name} ({connection.kind}, {state}) last synced: {synced}", highlight=False)
    console.print(f"  config: {connection.config}", highlight=False)
    if connection.cursor:
        console.print(f"  cursor: {connection.cursor}", highlight=False)
    if connection.last_error:
        console.print(f"  [red]last error:[/red] {connection.last_error}", highlight=False)


@connect_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """Every connection, its sync position and last error."""
    runtime = build_runtime()
    with runtime.uow() as uow:
        found = service.list_connections(uow.session)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no connections yet: mailwright connect woocommerce|magento|hubspot|zoho NAME ...")
    for connection in found:
        _render(connection)


@connect_app.command("show")
def show_cmd(name: NameArg, as_json: JsonOption = False) -> None:
    """One connection (secrets masked) and, for a CRM, its field mapping."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        connection = service.get_connection(uow.session, name)
        mapping = service.mapping_rows(uow.session, name) if connection.kind in service.CRM_KINDS else []
    if as_json:
        print_json({"connection": connection, "mapping": mapping})
        return
    _render(connection)
    if mapping:
        render_mapping(mapping)
        if connection.mapping_confirmed_at is None:
            console.print(f"Not confirmed yet: mailwright connect confirm {name}")


@connect_app.command("confirm")
def confirm_cmd(name: NameArg, as_json: JsonOption = False) -> None:
    """Accept a CRM connection's field mapping (the first sync waits for this)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        connection = service.confirm_mapping(uow.session, name, uow.now())
    if as_json:
        print_json(connection)
    else:
        console.print(f"mapping of {name} confirmed")


def _render_report(report: SyncReport) -> None:
    pulled = ", ".join(f"{count} {what}" for what, count in report.pulled.items()) or "nothing"
    console.print(
        f"{report.connection} ({report.kind}): pulled {pulled}; {report.events_stored} events stored, "
        f"{report.events_unchanged} already there; {report.pushed} records pushed; "
        f"{report.requests} requests, {report.waited_seconds:.0f} s waited for rate limits",
        highlight=False,
    )
    if report.error:
        console.print(f"[red]stopped:[/red] {report.error} (the next sync resumes from the cursor)")


@connect_app.command("sync")
def sync_cmd(name: NameArg, as_json: JsonOption = False) -> None:
    """Pull (and for CRMs push) now, from where the last sync stopped."""
    runtime = build_runtime()
    with domain_errors():
        report = service.sync_connection(runtime.uow, name)
    if as_json:
        print_json(report)
    else:
        _render_report(report)
    if report.error:
        raise typer.Exit(1)


@connect_app.command("delete")
def delete_cmd(name: NameArg) -> None:
    """Forget a connection (the profiles and orders it brought in stay)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.delete_connection(uow.session, name)
    console.print(f"connection {name} deleted")
