"""Commands: serve, worker, db, import, contacts, keys, demo."""

import threading
from typing import Annotated

import typer
import uvicorn

from mailwright.api.app import create_app
from mailwright.cli.campaigns import campaigns_app
from mailwright.cli.common import build_runtime, close_runtimes, console, domain_errors, print_json
from mailwright.cli.connect import connect_app
from mailwright.cli.delivery import delivery_app, dkim_app, send_test
from mailwright.cli.demo import demo
from mailwright.cli.flows import flows_app
from mailwright.cli.imports import import_app
from mailwright.cli.predict import predict_app
from mailwright.cli.privacy import contacts_erase, contacts_export
from mailwright.cli.render import render_contact
from mailwright.cli.report import report_app
from mailwright.cli.rfm import cohorts_command, rfm_command
from mailwright.cli.segments import segments_app
from mailwright.cli.templates import templates_app
from mailwright.cli.tracking import doctor_command, health_command, inbound_command
from mailwright.cli.webhooks import webhooks_app
from mailwright.contacts import service as contacts
from mailwright.core.keys import create_key
from mailwright.events import service as events
from mailwright.migrations.runner import upgrade
from mailwright.orders import service as orders
from mailwright.worker.loop import run_worker

app = typer.Typer(help="Mailwright: email marketing for online shops.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
contacts_app = typer.Typer(help="Contact profiles.", no_args_is_help=True)
keys_app = typer.Typer(help="Write keys and admin tokens.", no_args_is_help=True)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.call_on_close(close_runtimes)


app.add_typer(db_app, name="db")
app.add_typer(contacts_app, name="contacts")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(templates_app, name="templates")
app.add_typer(predict_app, name="predict")
app.add_typer(connect_app, name="connect")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(report_app, name="report")
app.add_typer(segments_app, name="segments")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(flows_app, name="flows")
app.command("demo")(demo)
app.add_typer(delivery_app, name="delivery")
app.add_typer(dkim_app, name="dkim")
app.command("send-test")(send_test)
app.command("rfm")(rfm_command)
app.command("cohorts")(cohorts_command)
app.command("inbound")(inbound_command)
app.command("health")(health_command)
app.command("doctor")(doctor_command)
contacts_app.command("export")(contacts_export)
contacts_app.command("erase")(contacts_erase)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Run the worker in this process (embedded mode).")] = True,
) -> None:
    """Run the API (and, in embedded mode, the worker) in one process."""
    runtime = build_runtime()
    stop = threading.Event()
    thread = None
    if worker:
        thread = threading.Thread(target=run_worker, args=(runtime, stop), name="worker", daemon=True)
        thread.start()
    try:
        uvicorn.run(create_app(runtime), host=host, port=port, log_level="warning", access_log=False)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run what is due now, then exit.")] = False,
) -> None:
    """Run background jobs; start as many as you like against PostgreSQL."""
    runtime = build_runtime()
    stop = threading.Event()
    try:
        ran = run_worker(runtime, stop, once=once)
    except KeyboardInterrupt:
        stop.set()
        ran = 0
    if once:
        console.print(f"ran {ran} job(s)")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations."""
    runtime = build_runtime(migrate=False)
    upgrade(runtime.database.engine, revision)
    console.print(
        f"database at {revision}: {runtime.database.engine.url.render_as_string(hide_password=True)}"
    )


@contacts_app.command("show")
def contacts_show(
    email: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    events_limit: Annotated[int, typer.Option("--events", help="How many recent events to show.")] = 10,
) -> None:
    """Show one contact's profile, roll-ups, recent orders and events, predictions and recommendations."""
    from mailwright.cli.predict import render_explanation
    from mailwright.predictions import service as predictions  # loads pandas: only for this command

    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        profile = contacts.find_by_email(uow.session, email)
        if profile is None:
            console.print(f"[red]no contact with email {email}[/red]")
            raise typer.Exit(1)
        recent = events.list_events(uow.session, contact_id=profile.id, limit=events_limit)
        placed = orders.list_orders(uow.session, contact_id=profile.id, limit=events_limit)
        predicted = predictions.explain(uow.session, email)
    if as_json:
        print_json({"contact": profile, "orders": placed, "events": recent, "predictions": predicted})
        return
    render_contact(profile, placed, recent)
    if predicted is not None:
        render_explanation(predicted)


@keys_app.command("create")
def keys_create(
    admin: Annotated[
        bool, typer.Option("--admin", help="A management API token instead of a write key.")
    ] = False,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a write key (for ingestion) or an admin token; the secret is shown only once."""
    runtime = build_runtime()
    kind = "admin" if admin else "write"
    with runtime.uow() as uow:
        secret = create_key(uow.session, kind=kind, name=name, now=uow.now())
    if as_json:
        print_json({"kind": kind, "name": name, "key": secret})
    else:
        console.print(secret, highlight=False)
