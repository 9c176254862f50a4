"""`mailwright import ...`: CSV files, the Online Retail data set, and Mailchimp / Klaviyo exports."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, err_console, print_json
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.events.imports.csv_import import CsvOptions, ImportKind, import_csv
from mailwright.events.imports.csv_reader import parse_mapping
from mailwright.events.imports.online_retail import import_online_retail
from mailwright.events.imports.schemas import ImportReport, OnlineRetailReport
from mailwright.events.service import EVENTS_INGESTED_JOB

import_app = typer.Typer(help="Import customers, products and orders from files.", no_args_is_help=True)

# How many rejected rows the table shows; --json always lists them all.
SHOWN_REJECTIONS = 50


class LazyProgress:
    """A Rich progress bar on stderr that appears only once the work has taken more than a second."""

    def __init__(self, description: str, *, enabled: bool = True, delay: float = 1.0) -> None:
        self.description = description
        self.enabled = enabled
        self.delay = delay
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        """Move the bar (showing it first if the work has been running long enough)."""
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.started < self.delay:
                return
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=total)
        if self.task is not None:
            self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        """Remove the bar; later progress reports are ignored."""
        self.enabled = False
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@contextmanager
def open_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """A migrated runtime whose database connections are closed when the command is done."""
    runtime = build_runtime(settings=settings)
    try:
        yield runtime
    finally:
        runtime.database.engine.dispose()


MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Read a field from a column with another name: --map email=E-mail (repeatable).",
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
BatchOption = Annotated[int, typer.Option("--batch-size", help="Records per transaction.", min=1)]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--timezone", help="IANA zone of times written without an offset (default: the shop's)."),
]
CurrencyOption = Annotated[
    str | None, typer.Option("--currency", help="Currency of prices without a currency column.")
]


def _run_csv(
    kind: ImportKind,
    file: Path,
    mapping: list[str] | None,
    *,
    dry_run: bool,
    as_json: bool,
    batch_size: int,
    timezone: str | None,
    currency: str | None,
) -> None:
    progress = LazyProgress(f"importing {kind}", enabled=err_console.is_terminal)
    try:
        with domain_errors(), open_runtime() as runtime:
            options = CsvOptions(
                mapping=parse_mapping(mapping or []),
                currency=currency or runtime.settings.shop_currency,
                timezone=timezone or runtime.settings.default_timezone,
                dry_run=dry_run,
                batch_size=batch_size,
                notify=EVENTS_INGESTED_JOB in runtime.registry.handlers,
            )
            report = import_csv(
                kind, file, runtime.uow, now=runtime.clock.now(), options=options, progress=progress
            )
    finally:
        progress.close()
    if as_json:
        print_json(report)
    else:
        render_import_report(report)
    if report.rejected:
        raise typer.Exit(1)


def render_import_report(report: ImportReport) -> None:
    """Print what an import did and a table of the rows it rejected."""
    verb = "would import" if report.dry_run else "imported"
    applied = report.records if report.dry_run else report.imported
    console.print(
        f"{report.path}: {report.rows} row(s), {report.records} valid {report.kind}; "
        f"{verb} {applied}, {report.unchanged} already up to date, {len(report.rejected)} row(s) rejected"
        + (" (dry run: nothing written)" if report.dry_run else ""),
        highlight=False,
    )
    if not report.rejected:
        return
    table = Table(title="Rejected rows")
    for column in ("line", "column", "reason"):
        table.add_column(column)
    for row in report.rejected[:SHOWN_REJECTIONS]:
        table.add_row(str(row.line), row.column or "-", row.reason)
    console.print(table)
    if len(report.rejected) > SHOWN_REJECTIONS:
        console.print(f"... and {len(report.rejected) - SHOWN_REJECTIONS} more (--json lists them all)")


@import_app.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(help="CSV file, one customer per row.")],
    mapping: MapOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    batch_size: BatchOption = 500,
    timezone: TimezoneOption = None,
) -> None:
    """Import customers (email or id; name, phone, locale, timezone, country, city, birthday, consent)."""
    _run_csv(
        "customers",
        file,
        mapping,
        dry_run=dry_run,
        as_json=as_json,
        batch_size=batch_size,
        timezone=timezone,
        currency=None,
    )


@import_app.command("products")
def import_products(
    file: Annotated[Path, typer.Argument(help="CSV file, one product per row.")],
    mapping: MapOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    batch_size: BatchOption = 500,
    currency: CurrencyOption = None,
) -> None:
    """Import catalog products (id, sku, title, price, currency, url, image_url, categories, in_stock)."""
    _run_csv(
        "products",
        file,
        mapping,
        dry_run=dry_run,
        as_json=as_json,
        batch_size=batch_size,
        timezone=None,
        currency=currency,
    )


@import_app.command("orders")
def import_orders(
    file: Annotated[Path, typer.Argument(help="CSV file, one row per order line.")],
    mapping: MapOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    batch_size: BatchOption = 500,
    timezone: TimezoneOption = None,
    currency: CurrencyOption = None,
) -> None:
    """Import orders, one row per line, grouped by order id (customer email or id, date, product, price)."""
    _run_csv(
        "orders",
        file,
        mapping,
        dry_run=dry_run,
        as_json=as_json,
        batch_size=batch_size,
        timezone=timezone,
        currency=currency,
    )


@import_app.command("online-retail")
def import_online_retail_command(
    path: Annotated[Path, typer.Argument(help="The online_retail folder or its parquet file.")] = Path(
        "../shared/data/online_retail"
    ),
    limit_customers: Annotated[
        int | None, typer.Option("--limit-customers", help="Only the first N customers by id.", min=1)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import the UCI Online Retail data set: customers, invoices as orders, and the catalog."""
    progress = LazyProgress("importing orders", enabled=err_console.is_terminal)
    try:
        with domain_errors(), open_runtime() as runtime:
            report = import_online_retail(
                runtime.uow, path, limit_customers=limit_customers, progress=progress
            )
    finally:
        progress.close()
    if as_json:
        print_json(report)
    else:
        render_online_retail_report(report)


def render_online_retail_report(report: OnlineRetailReport) -> None:
    """Print what the Online Retail import did."""
    console.print(
        f"{report.path}: {report.customers:,} customers, {report.orders:,} orders "
        f"({report.order_lines:,} lines), {report.products:,} products in {report.seconds:.1f} s; "
        f"{report.events_imported:,} events stored, {report.events_unchanged:,} already there; "
        f"dropped {report.returns_dropped:,} return/adjustment and {report.guest_rows_dropped:,} guest rows",
        highlight=False,
    )


def _run_moving_in(source: str, file: Path, *, dry_run: bool, as_json: bool) -> None:
    """Import another email tool's contact export (connectors.mailchimp / connectors.klaviyo)."""
    from mailwright.connectors import klaviyo, mailchimp

    module = mailchimp if source == "mailchimp" else klaviyo
    with domain_errors(), open_runtime() as runtime:
        notify = EVENTS_INGESTED_JOB in runtime.registry.handlers
        report = module.import_export(
            file, runtime.uow, now=runtime.clock.now(), dry_run=dry_run, notify=notify
        )
    if as_json:
        print_json(report)
    else:
        verb = "would import" if report.dry_run else "imported"
        console.print(
            f"{report.path} ({', '.join(report.files)}): {report.people} people from {report.rows} row(s): "
            f"{report.subscribed} subscribed, {report.unsubscribed} unsubscribed, {report.suppressed} "
            f"suppressed (bounced/complained), {report.never_subscribed} never subscribed; {verb} "
            f"{report.imported if not report.dry_run else report.people}, {report.unchanged} already up to date, "
            f"{len(report.rejected)} row(s) rejected",
            highlight=False,
        )
        for row in report.rejected[:SHOWN_REJECTIONS]:
            console.print(f"  line {row.line} ({row.column or '-'}): {row.reason}", highlight=False)
    if report.rejected:
        raise typer.Exit(1)


@import_app.command("mailchimp")
def import_mailchimp(
    file: Annotated[Path, typer.Argument(help="Audience export: a members CSV or the export's zip.")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import a Mailchimp audience export; unsubscribed stay unsubscribed, cleaned are suppressed."""
    _run_moving_in("mailchimp", file, dry_run=dry_run, as_json=as_json)


@import_app.command("klaviyo")
def import_klaviyo(
    file: Annotated[Path, typer.Argument(help="Profile export CSV (or a zip of them).")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import a Klaviyo profile export with its consent and suppressions."""
    _run_moving_in("klaviyo", file, dry_run=dry_run, as_json=as_json)
