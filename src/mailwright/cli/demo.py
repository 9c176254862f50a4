"""`mailwright demo`: a fresh embedded database filled with a real shop's history, and a first look at it."""

import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from babel import Locale
from babel.numbers import format_currency
from rich.table import Table

from mailwright.cli.common import console, domain_errors, err_console, print_json
from mailwright.cli.flows import render_flow_demo
from mailwright.cli.imports import LazyProgress, open_runtime, render_online_retail_report
from mailwright.cli.rfm import analyse_shop, render_analysis
from mailwright.core.clock import ManualClock
from mailwright.core.errors import InvalidInput
from mailwright.core.money import from_minor
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.events.imports.online_retail import customer_email, find_parquet, import_online_retail
from mailwright.events.imports.overview import CountryLine, ShopOverview, shop_overview
from mailwright.flows import demo as flows_demo
from mailwright.orders.schemas import TopProduct
from mailwright.templates.service import write_builtin_previews

if TYPE_CHECKING:
    from mailwright.predictions.schemas import TrainingSummary

# The demo always owns this file: it is deleted and rebuilt on every run, whatever else is configured.
DEMO_DATABASE = Path("var/demo.db")
PREVIEWS = Path("var/previews")
REPORTS = Path("var/reports")
DATA_FOLDER = Path("../shared/data/online_retail")
# The segments report's charts, shown again at the end of the email report.
REPORT_IMAGES = (
    ("RFM segments", "rfm.png"),
    ("Retention by monthly cohort", "cohorts_retention_month.png"),
    ("Revenue by monthly cohort", "cohorts_revenue_month.png"),
)
# A customer with several orders: a good first profile to open.
EXAMPLE_CUSTOMER = "12347"
_COUNTRY_NAMES = Locale("en").territories


def _data_folder(given: Path | None) -> Path:
    if given is not None:
        return given
    # From the repository root (make demo) or from anywhere inside a source checkout.
    for candidate in (DATA_FOLDER, Path(__file__).resolve().parents[3] / DATA_FOLDER):
        if candidate.exists():
            return candidate
    raise InvalidInput(
        f"the Online Retail data is not at {DATA_FOLDER.resolve()}; "
        "put online_retail_2010_2011.parquet there or pass --data PATH",
        field="data",
    )


def _money(minor: int, currency: str | None) -> str:
    code = currency or "GBP"
    return format_currency(from_minor(minor, code), code, locale="en_GB")


def _country(code: str | None) -> str:
    if code is None:
        return "unknown"
    return f"{_COUNTRY_NAMES.get(code, code)} ({code})"


def predict_as_of(runtime: Runtime, moment: datetime) -> "TrainingSummary":
    """Train and store the shop's predictions with the clock at `moment` (a historical shop's own time)."""
    from mailwright.predictions import service  # the models load pandas: only when used

    shop = Runtime(
        runtime.settings, clock=ManualClock(moment), database=runtime.database, registry=runtime.registry
    )
    with shop.uow() as uow:
        return service.train_and_score(uow, default_currency=runtime.settings.shop_currency)


def _fresh_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def demo(
    data: Annotated[
        Path | None, typer.Option("--data", help="The online_retail folder (default ../shared/data/...).")
    ] = None,
    limit_customers: Annotated[
        int | None, typer.Option("--limit-customers", help="Only the first N customers (quicker).", min=1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Build var/demo.db from the Online Retail history and show the shop at a glance."""
    started = time.perf_counter()
    with domain_errors():
        source = find_parquet(_data_folder(data))
    _fresh_database(DEMO_DATABASE)
    url = f"sqlite:///{DEMO_DATABASE}"
    # A throw-away database rebuilt on each run: NORMAL sync is safe enough and saves fsyncs.
    settings = Settings(database_url=url, sqlite_synchronous="NORMAL")
    if not as_json:
        console.print(f"Demo database: {DEMO_DATABASE} (fresh); importing {source} ...", highlight=False)
    progress = LazyProgress("importing orders", enabled=err_console.is_terminal)
    try:
        with domain_errors(), open_runtime(settings) as runtime:
            report = import_online_retail(
                runtime.uow, source, limit_customers=limit_customers, progress=progress
            )
            progress.close()
            with runtime.uow() as uow:
                overview = shop_overview(uow.session, example_email=customer_email(EXAMPLE_CUSTOMER))
            previews: list[Path] = []
            if overview.example_email:
                # Every built-in template as this real customer would get it, to open in a browser.
                previews = write_builtin_previews(runtime, PREVIEWS, overview.example_email)
            # RFM map and cohorts as of the shop's last day, with a report of charts under var/reports/.
            analysis = analyse_shop(runtime, overview.last_order_at, REPORTS)
            # The flow library switched on and the shop's last 60 days run through the engine (last step).
            flow_demo = None
            measured = None
            predictions = None
            if overview.last_order_at is not None:
                if not as_json:
                    console.print("Training the predictions ...", highlight=False)
                # As of the replay's first day: the emails' recommendations must not know the orders to come.
                predictions = predict_as_of(runtime, overview.last_order_at - timedelta(days=flows_demo.DAYS))
                if not as_json:
                    console.print("Running the flow library over the last 60 days ...", highlight=False)
                end = overview.last_order_at
                from mailwright.analytics import demo as analytics_demo  # matplotlib: only when used

                responder = analytics_demo.Responder(
                    runtime.database,
                    analytics_demo.DEMO_MODEL,
                    currency=overview.currency or runtime.settings.shop_currency,
                    horizon=end,
                )
                flow_demo = flows_demo.run(runtime.database, runtime.settings, end, after_delivery=responder)
                # The demo ends with the report: what each flow earned, its holdout lift, the cart A/B test.
                images = [
                    (title, REPORTS / name) for title, name in REPORT_IMAGES if (REPORTS / name).exists()
                ]
                measured = analytics_demo.measure(
                    runtime.database,
                    runtime.settings,
                    responder,
                    since=flow_demo.start,
                    until=end + timedelta(seconds=1),
                    html=REPORTS / "report.html",
                    extra_images=images,
                )
    finally:
        progress.close()
    seconds = round(time.perf_counter() - started, 1)
    show = (
        f"MAILWRIGHT_DATABASE_URL={url} mailwright contacts show {overview.example_email}"
        if overview.example_email
        else None
    )
    if as_json:
        print_json(
            {
                "database": url,
                "import": report,
                "overview": overview,
                "previews": [str(p) for p in previews],
                "rfm": analysis.summary if analysis else None,
                "predictions": predictions.model_dump(mode="json") if predictions else None,
                "cohorts": analysis.retention if analysis else None,
                "report": str(analysis.report) if analysis else None,
                "flows": asdict(flow_demo) if flow_demo else None,
                "email_report": measured.report.model_dump(mode="json") if measured else None,
                "lift_checks": [asdict(c) | {"covered": c.covered} for c in measured.checks]
                if measured
                else None,
                "report_html": str(measured.html) if measured else None,
                "seconds": seconds,
                "next": show,
            }
        )
        return
    render_online_retail_report(report)
    render_overview(overview)
    if analysis is not None:
        render_analysis(analysis)
    if predictions is not None:
        from mailwright.cli.predict import render_summary

        console.print(
            "Predictions, trained as of the first day of the replay below (its emails recommend from them):",
            highlight=False,
        )
        render_summary(predictions)
    if flow_demo is not None:
        render_flow_demo(flow_demo)
    if measured is not None:
        from mailwright.cli.report import render_measured

        render_measured(measured)
    if previews:
        console.print(
            f"{len(previews)} template previews for {overview.example_email} written to {PREVIEWS}/",
            highlight=False,
        )
    console.print(f"Demo built in {seconds:.1f} s.")
    if show:
        console.print("Look at one customer:", highlight=False)
        console.print(f"  {show}", highlight=False, soft_wrap=True)


def render_overview(overview: ShopOverview) -> None:
    """Print the shop's figures, countries and best sellers as tables."""
    currency = overview.currency
    glance = Table(title="The shop at a glance", show_header=False)
    span = (
        f"{overview.first_order_at:%Y-%m-%d} .. {overview.last_order_at:%Y-%m-%d}"
        if overview.first_order_at and overview.last_order_at
        else "-"
    )
    for key, value in (
        ("customers", f"{overview.customers:,}"),
        ("customers who ordered", f"{overview.customers_with_orders:,}"),
        ("orders", f"{overview.orders:,}"),
        ("revenue", _money(overview.revenue_minor, currency)),
        ("average order value", _money(overview.average_order_value_minor, currency)),
        ("repeat-purchase rate", f"{overview.repeat_purchase_rate:.1%} ({overview.repeat_customers:,})"),
        ("orders placed", span),
        ("products", f"{overview.products:,}"),
    ):
        glance.add_row(key, value)
    console.print(glance)
    console.print(_country_table("Top countries by customers", overview.countries_by_customers, currency))
    console.print(_country_table("Top countries by revenue", overview.countries_by_revenue, currency))
    console.print(_product_table("Top products by units", overview.top_products_by_units, currency))
    console.print(_product_table("Top products by revenue", overview.top_products_by_revenue, currency))


def _country_table(title: str, rows: list[CountryLine], currency: str | None) -> Table:
    table = Table(title=title)
    for column in ("country", "customers", "orders", "revenue"):
        table.add_column(column, justify="left" if column == "country" else "right")
    for row in rows:
        table.add_row(
            _country(row.country),
            f"{row.customers:,}",
            f"{row.orders:,}",
            _money(row.revenue_minor, currency),
        )
    return table


def _product_table(title: str, rows: list[TopProduct], currency: str | None) -> Table:
    table = Table(title=title)
    for column in ("product", "title", "units", "revenue"):
        table.add_column(column, justify="right" if column in ("units", "revenue") else "left")
    for row in rows:
        table.add_row(
            row.product_external_id or "-",
            row.title or "-",
            f"{row.units:,}",
            _money(row.revenue_minor, currency),
        )
    return table
