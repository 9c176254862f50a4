"""`mailwright webhooks ...`: subscribe URLs to Mailwright's events, list them, read the delivery log."""

from typing import Annotated

import typer
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.connectors.schemas import EndpointIn, EndpointOut, EndpointPatch
from mailwright.connectors.webhooks import service
from mailwright.connectors.webhooks.signing import SIGNATURE_HEADER

webhooks_app = typer.Typer(
    help="Outbound webhooks: signed POSTs of Mailwright's events.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArg = Annotated[int, typer.Argument(help="The endpoint's id (see `webhooks list`).")]


def _state(endpoint: EndpointOut) -> str:
    if endpoint.enabled:
        failing = (
            f", {endpoint.consecutive_failures} failures in a row" if endpoint.consecutive_failures else ""
        )
        return f"enabled{failing}"
    return f"disabled: {endpoint.disabled_reason}"


@webhooks_app.command("add")
def add_cmd(
    url: Annotated[str, typer.Argument(help="Where to POST the events.")],
    events: Annotated[
        list[str], typer.Option("--event", help="An event to send, e.g. 'Email Clicked' (repeatable).")
    ],
    secret: Annotated[
        str | None, typer.Option("--secret", help="Signing secret (default: a new one).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="A note for yourself.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe a URL; the signing secret is printed once."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        endpoint = service.create_endpoint(
            uow.session, EndpointIn(url=url, events=events, secret=secret, description=description), uow.now()
        )
    if as_json:
        print_json(endpoint)
        return
    console.print(
        f"endpoint {endpoint.id}: {endpoint.url} <- {', '.join(endpoint.event_names)}", highlight=False
    )
    console.print(f"signing secret (shown once): {endpoint.secret}", highlight=False)
    console.print(f"verify the {SIGNATURE_HEADER} header as the README shows", highlight=False)


@webhooks_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """Every endpoint, its events and state (with the reason when it was disabled)."""
    runtime = build_runtime()
    with runtime.uow() as uow:
        found = service.list_endpoints(uow.session)
    if as_json:
        print_json(found)
        return
    table = Table(title="Webhook endpoints")
    for column in ("id", "url", "events", "state"):
        table.add_column(column)
    for endpoint in found:
        table.add_row(str(endpoint.id), endpoint.url, ", ".join(endpoint.event_names), _state(endpoint))
    console.print(table)


@webhooks_app.command("log")
def log_cmd(
    endpoint_id: IdArg,
    limit: Annotated[int, typer.Option("--limit", help="How many deliveries, newest first.", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """An endpoint's deliveries with every attempt: status code, error and next retry."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        endpoint = service.get_endpoint(uow.session, endpoint_id)
        deliveries = service.list_deliveries(uow.session, endpoint_id, limit=limit)
    if as_json:
        print_json({"endpoint": endpoint, "deliveries": deliveries})
        return
    console.print(f"endpoint {endpoint.id} {endpoint.url}: {_state(endpoint)}", highlight=False)
    table = Table()
    for column in ("delivery", "event", "status", "attempt", "at", "HTTP", "error", "next retry"):
        table.add_column(column)
    for delivery in deliveries:
        for attempt in delivery.log or []:
            table.add_row(
                delivery.public_id,
                delivery.event_name,
                delivery.status,
                str(attempt.attempt),
                attempt.attempted_at.isoformat(timespec="seconds"),
                str(attempt.status_code or "-"),
                (attempt.error or "")[:60],
                attempt.next_attempt_at.isoformat(timespec="seconds") if attempt.next_attempt_at else "-",
            )
        if not delivery.log:
            table.add_row(delivery.public_id, delivery.event_name, delivery.status, "0", "-", "-", "", "-")
    console.print(table)


def _set_enabled(endpoint_id: int, enabled: bool) -> EndpointOut:
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        return service.update_endpoint(uow.session, endpoint_id, EndpointPatch(enabled=enabled), uow.now())


@webhooks_app.command("enable")
def enable_cmd(endpoint_id: IdArg) -> None:
    """Enable an endpoint again (its failure streak starts over; events from meanwhile are not sent)."""
    console.print(f"endpoint {endpoint_id}: {_state(_set_enabled(endpoint_id, True))}", highlight=False)


@webhooks_app.command("disable")
def disable_cmd(endpoint_id: IdArg) -> None:
    """Stop sending to an endpoint."""
    console.print(f"endpoint {endpoint_id}: {_state(_set_enabled(endpoint_id, False))}", highlight=False)


@webhooks_app.command("delete")
def delete_cmd(endpoint_id: IdArg) -> None:
    """Remove an endpoint and its log."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.delete_endpoint(uow.session, endpoint_id)
    console.print(f"endpoint {endpoint_id} deleted")
