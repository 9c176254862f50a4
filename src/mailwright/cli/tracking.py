"""`mailwright inbound`, `mailwright health` and `mailwright doctor`: bounces in, deliverability out."""

import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, err_console, print_json
from mailwright.core.errors import InvalidInput
from mailwright.tracking import health, inbound

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def inbound_command(
    port: Annotated[
        int | None, typer.Option("--port", help="Run the SMTP endpoint on this port (127.0.0.1 by default).")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: inbound_host).")
    ] = None,
    maildir: Annotated[
        Path | None, typer.Option("--maildir", help="Poll this Maildir: process new/, move to cur/.")
    ] = None,
    imap: Annotated[
        bool, typer.Option("--imap", help="Poll the IMAP folder of the imap_* settings.")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit (Maildir/IMAP).")] = False,
    every: Annotated[float, typer.Option("--every", help="Seconds between polls.", min=0.1)] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Read bounces (RFC 3464), complaints (ARF) and mailto unsubscribes: by SMTP, from a Maildir or IMAP."""
    runtime = build_runtime()
    settings = runtime.settings
    if port is None and maildir is None and not imap:
        port = settings.inbound_port
    with domain_errors():
        if maildir is not None and not (maildir / "new").is_dir():
            raise InvalidInput(f"{maildir} is not a Maildir (no new/ folder)", field="maildir")
        if once:
            done = 0
            if maildir is not None:
                done += inbound.poll_maildir(runtime, maildir)
            if imap:
                done += inbound.poll_imap(runtime)
            if as_json:
                print_json({"processed": done})
            else:
                console.print(f"processed {done} message(s)")
            return
    controller = None
    stop = threading.Event()
    if port is not None:
        listen = host or settings.inbound_host
        controller = inbound.start_smtp(runtime, host=listen, port=port)
        err_console.print(f"inbound SMTP listening on {listen}:{port}")
    poller = None
    if maildir is not None or imap:
        poller = threading.Thread(
            target=inbound.run_poller,
            args=(runtime, stop),
            kwargs={"maildir": maildir, "imap": imap, "every": every},
            name="inbound-poller",
            daemon=True,
        )
        poller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if controller is not None:
            controller.stop()
        if poller is not None:
            poller.join(timeout=every + 5)


def health_command(
    days: Annotated[
        int, typer.Option("--days", help="How many days back (today included).", min=1, max=366)
    ] = 14,
    as_json: JsonOption = False,
) -> None:
    """Daily bounce and complaint rates, with Gmail's complaint thresholds (0.1 % warning, 0.3 % critical)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        report = health.deliverability(uow.session, now=uow.now(), days=days, settings=runtime.settings)
    if as_json:
        print_json(asdict(report))
    else:
        table = Table("day", "sent", "hard", "soft", "5.7.x", "complaints", "bounce rate", "complaint rate")
        for day in report.days:
            table.add_row(
                day.day,
                str(day.sent),
                str(day.hard_bounces),
                str(day.soft_bounces),
                str(day.sender_bounces),
                str(day.complaints),
                f"{day.bounce_rate:.2%}",
                f"{day.complaint_rate:.3%}",
            )
        console.print(table)
        console.print(
            f"total: {report.sent} sent, bounce rate {report.bounce_rate:.2%}, "
            f"complaint rate {report.complaint_rate:.3%}: [bold]{report.status}[/bold]"
        )
        for warning in report.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")
    if report.status == "critical":
        raise typer.Exit(2)


def doctor_command(
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not look the DKIM record up in DNS.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the DKIM key and selector, From/DKIM/bounce alignment; print the DKIM, SPF and DMARC records."""
    runtime = build_runtime(migrate=False)
    report = health.doctor(runtime.settings, resolve=None if offline else health.dns_txt)
    if as_json:
        print_json({"ok": report.ok, "checks": [asdict(c) for c in report.checks], "records": report.records})
    else:
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False)
        console.print("\nDNS records to publish:")
        for name, record in report.records.items():
            console.print(f"  {name}: {record}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
