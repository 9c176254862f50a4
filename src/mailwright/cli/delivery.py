"""Commands: dkim keygen; delivery status, send, review, resume; send-test."""

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from mailwright.cli.common import build_runtime, console, domain_errors, err_console, print_json
from mailwright.contacts import service as contacts
from mailwright.core.errors import NotFound
from mailwright.delivery import service, signing

dkim_app = typer.Typer(help="DKIM signing keys.", no_args_is_help=True)
delivery_app = typer.Typer(
    help="The outbox: status, sending, review of interrupted sends, pause.", no_args_is_help=True
)


def _worker_id() -> str:
    return f"cli:{socket.gethostname()}:{os.getpid()}"


@dkim_app.command("keygen")
def keygen(
    selector: Annotated[str, typer.Option(help="The DKIM selector (s= of the signature).")] = "mailwright",
    domain: Annotated[
        str | None, typer.Option(help="The signing domain (d=); default: the From domain.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the private key (PEM, mode 0600).")] = None,
    bits: Annotated[int, typer.Option(help="RSA key size.")] = 2048,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a DKIM key and print the DNS TXT record to publish for it."""
    runtime = build_runtime(migrate=False)
    settings = runtime.settings
    signing_domain = domain or settings.dkim_domain or settings.from_address.rsplit("@", 1)[-1]
    path = out or Path(f"var/dkim/{selector}.{signing_domain}.pem")
    with domain_errors():
        private_pem, public_der = signing.generate_key(bits)
        signing.write_private_key(path, private_pem)
    record = signing.dns_record(selector, signing_domain, public_der)
    if as_json:
        print_json(
            {
                "selector": selector,
                "domain": signing_domain,
                "private_key_file": str(path),
                "dns_name": f"{selector}._domainkey.{signing_domain}",
                "dns_txt": signing.dns_txt_value(public_der),
                "record": record,
            }
        )
        return
    console.print(f"Private key written to {path} (mode 0600). Publish this DNS record:\n", highlight=False)
    typer.echo(record)
    console.print(
        "\nThen set MAILWRIGHT_DKIM_SELECTOR="
        f"{selector} MAILWRIGHT_DKIM_DOMAIN={signing_domain} MAILWRIGHT_DKIM_PRIVATE_KEY_FILE={path}",
        highlight=False,
    )


@delivery_app.command("status")
def status_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Messages per status, what is due, and whether sending is paused (and why)."""
    runtime = build_runtime()
    with runtime.uow() as uow:
        found = service.status(uow, runtime.settings)
    if as_json:
        print_json(found)
        return
    if found.paused:
        err_console.print(f"[red]SENDING PAUSED[/red] since {found.paused_at}: {found.pause_reason}")
        err_console.print("Fix the cause, then run: mailwright delivery resume")
    console.print(f"sender: {found.sender}   due now: {found.due}", highlight=False)
    for name in ("queued", "sending", "sent", "skipped", "failed", "bounced", "review"):
        console.print(f"  {name:9} {found.counts.get(name, 0)}", highlight=False)
    if found.review:
        console.print(f"{found.review} message(s) need review: mailwright delivery review")


@delivery_app.command("send")
def send_cmd(
    limit: Annotated[int, typer.Option(help="Send at most this many messages.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the messages that are due now, with the configured sender."""
    runtime = build_runtime()
    with domain_errors():
        report = service.send_due(runtime, worker_id=_worker_id(), limit=limit)
    if as_json:
        print_json(report)
        return
    console.print(
        f"claimed {report.claimed}: sent {report.sent}, skipped {report.skipped}, postponed {report.postponed}, "
        f"retry later {report.retried}, bounced {report.bounced}, failed {report.failed}",
        highlight=False,
    )
    if report.paused:
        err_console.print("[red]sending is paused[/red]: see mailwright delivery status")
        raise typer.Exit(2)


@delivery_app.command("review")
def review_cmd(
    requeue: Annotated[
        str | None, typer.Option(help="Queue this message again (it may arrive twice).")
    ] = None,
    drop: Annotated[str | None, typer.Option(help="Give this message up (marked failed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Messages a stopped worker left half-sent; show them, or decide one with --requeue / --drop."""
    runtime = build_runtime()
    if requeue and drop:
        err_console.print("[red]error:[/red] give --requeue or --drop, not both")
        raise typer.Exit(1)
    with domain_errors(), runtime.uow() as uow:
        if requeue or drop:
            decided = service.decide_review(uow, requeue or drop or "", requeue=bool(requeue))
            if as_json:
                print_json(decided)
            else:
                console.print(f"{decided.public_id}: {decided.status}", highlight=False)
            return
        waiting = service.list_outbox(uow.session, status="review", limit=500)
    if as_json:
        print_json(waiting)
        return
    if not waiting:
        console.print("nothing to review")
    for m in waiting:
        console.print(
            f"{m.public_id}  {m.to_address or '-'}  {m.template_name}  held by {m.locked_by} since {m.locked_at}",
            highlight=False,
        )


@delivery_app.command("resume")
def resume_cmd() -> None:
    """Resume sending after a pause (a 5.7.x reply: fix authentication or reputation first)."""
    runtime = build_runtime()
    with runtime.uow() as uow:
        was_paused = service.resume(uow)
    console.print("sending resumed" if was_paused else "sending was not paused")


def send_test(
    template: Annotated[str, typer.Option(help="The template to send.")],
    to: Annotated[str, typer.Option(help="A contact's email address.")],
) -> None:
    """Send one template to one existing contact now (as transactional mail: no cap, no quiet hours)."""
    runtime = build_runtime()
    with domain_errors():
        with runtime.uow() as uow:
            profile = contacts.find_by_email(uow.session, to)
            if profile is None:
                raise NotFound(f"no contact with email {to}", field="to")
            queued = service.enqueue(
                uow,
                contact_id=profile.id,
                template_name=template,
                idempotency_key=f"send-test:{template}:{profile.id}:{uow.now().isoformat()}",
                source_kind="manual",
                category="transactional",
            )
        service.send_due(runtime, worker_id=_worker_id(), limit=runtime.settings.send_batch_size)
        with runtime.uow() as uow:
            message = service.get_message(uow.session, queued.public_id)
    if message.status != "sent":
        raise_error = message.skip_reason or message.last_error or message.status
        err_console.print(f"[red]not sent[/red] ({message.status}): {raise_error}")
        raise typer.Exit(1)
    console.print(
        f"sent {message.public_id} to {message.to_address} via {runtime.settings.sender}", highlight=False
    )


__all__ = ["delivery_app", "dkim_app", "send_test"]
