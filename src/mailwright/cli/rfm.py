"""`mailwright rfm` and `mailwright cohorts`: the RFM map, lifecycle stages and acquisition cohorts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from babel.numbers import format_currency
from rich import box
from rich.table import Table

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.core.clock import ManualClock
from mailwright.core.money import from_minor
from mailwright.core.runtime import Runtime
from mailwright.segments import cohorts, rfm
from mailwright.segments import service as segments
from mailwright.segments.cohorts import CohortTable
from mailwright.segments.rfm_schemas import RfmSummary

AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        help="As of this moment (UTC) instead of now, e.g. 2011-12-10 for the Online Retail shop.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _runtime(as_of: datetime | None) -> Runtime:
    runtime = build_runtime()
    if as_of is None:
        return runtime
    moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
    # The clock decides "now" everywhere; a fixed one scores a historical shop as of its own time.
    return Runtime(
        runtime.settings, clock=ManualClock(moment), database=runtime.database, registry=runtime.registry
    )


def rfm_command(as_of: AsOfOption = None, as_json: JsonOption = False) -> None:
    """Recompute RFM scores and lifecycle stages, store them on the profiles, and print the map."""
    runtime = _runtime(as_of)
    with domain_errors(), runtime.uow() as uow:
        run = rfm.refresh_rfm(uow)
        summary = rfm.summary(uow.session, runtime.settings.shop_currency, thresholds=run.thresholds)
    summary = summary.model_copy(update={"seconds": run.seconds})
    if as_json:
        print_json(summary)
        return
    render_rfm(summary)


def cohorts_command(
    metric: Annotated[
        cohorts.Metric, typer.Option("--metric", help="retention | revenue | cumulative_revenue")
    ] = "retention",
    period: Annotated[cohorts.Period, typer.Option("--period", help="month | quarter")] = "month",
    as_of: AsOfOption = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the heat map to this PNG file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Acquisition cohorts x periods since the first order: retention or revenue per customer."""
    runtime = _runtime(as_of)
    with domain_errors(), runtime.uow() as uow:
        table = cohorts.cohort_table(uow.session, uow.now(), metric=metric, period=period)
    if chart is not None:
        from mailwright.segments.charts import (
            cohort_heatmap,
        )  # matplotlib loads only when a chart is asked for

        cohort_heatmap(table, chart)
    if as_json:
        print_json(table)
        return
    render_cohorts(table)
    if chart is not None:
        console.print(f"heat map written to {chart}", highlight=False)


def _money(minor: int, currency: str) -> str:
    return format_currency(from_minor(minor, currency), currency, locale="en_GB")


def render_rfm(summary: RfmSummary) -> None:
    """Print the named RFM segments, the lifecycle stages and their thresholds as tables."""
    when = f"{summary.computed_at:%Y-%m-%d %H:%M} UTC" if summary.computed_at else "never"
    table = Table(title=f"RFM map: {summary.customers_scored:,} customers, as of {when}")
    for column in ("segment", "customers", "share", "revenue", "revenue share"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for s in summary.segments:
        table.add_row(
            s.name,
            f"{s.customers:,}",
            f"{s.share:.1%}",
            _money(s.revenue_minor, summary.currency),
            f"{s.revenue_share:.1%}",
        )
    console.print(table)
    stages = Table(title="Lifecycle stages")
    for column in ("stage", "customers", "share"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for st in summary.lifecycle:
        stages.add_row(st.stage, f"{st.customers:,}", f"{st.share:.1%}")
    console.print(stages)
    t = summary.thresholds
    if t is not None:
        console.print(
            f"Lifecycle thresholds ({t.source}): new = one order under {t.new_days} days old, "
            f"at risk after {t.at_risk_days} days without an order, churned after {t.churned_days}; "
            f"{t.reason}.",
            highlight=False,
        )


def render_cohorts(table: CohortTable, *, max_periods: int | None = None) -> None:
    """Print a cohort table (cohorts down, periods since the first order across), compact enough for 80 columns."""
    # About seven characters a period column: show as many as the terminal holds (--json has them all).
    fits = max(1, (console.width - 20) // 7)
    width = min(table.periods, fits if max_periods is None else max_periods)
    unit = "" if table.metric == "retention" else f", {table.currency}"
    cut = f" (periods 0-{width - 1} of {table.periods})" if width < table.periods else ""
    out = Table(
        title=f"Cohorts by {table.period}: {table.label}{unit}{cut}",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    out.add_column("cohort", no_wrap=True)
    out.add_column("n", justify="right", no_wrap=True)
    for k in range(width):
        out.add_column(str(k), justify="right", no_wrap=True)
    for row in table.cohorts:
        out.add_row(row.cohort, f"{row.customers:,}", *(_short(v, table.metric) for v in row.values[:width]))
    console.print(out)


def _short(value: float | None, metric: str) -> str:
    if value is None:
        return ""
    return f"{value:.0%}" if metric == "retention" else f"{value:,.0f}"


@dataclass(frozen=True)
class ShopAnalysis:
    """The demo's look at a shop's customers: the RFM map, two cohort tables and the report written."""

    summary: RfmSummary
    retention: CohortTable
    revenue: CohortTable
    report: Path
    # The built-in segments switched on, and how many customers each holds as of the shop's last day.
    segments: list[tuple[str, int]]


def analyse_shop(runtime: Runtime, last_order_at: datetime | None, directory: Path) -> ShopAnalysis | None:
    """Score RFM and build the cohort tables as of the end of the shop's last day of orders; write the report."""
    if last_order_at is None:
        return None
    end_of_day = datetime.combine(
        last_order_at.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC
    )
    # A clock stopped at the shop's own time: a historical shop is scored as of its last day, not today.
    shop = Runtime(
        runtime.settings, clock=ManualClock(end_of_day), database=runtime.database, registry=runtime.registry
    )
    with shop.uow() as uow:
        # Built-ins first, so the RFM refresh (which recomputes the segments that read it) fills them too.
        segments.install_builtins(uow)
    with shop.uow() as uow:
        run = rfm.refresh_rfm(uow)
        summary = rfm.summary(uow.session, runtime.settings.shop_currency, thresholds=run.thresholds)
        retention = cohorts.cohort_table(uow.session, end_of_day, metric="retention")
        revenue = cohorts.cohort_table(uow.session, end_of_day, metric="revenue")
    from mailwright.segments.cohorts_report import write_report  # matplotlib loads only here

    report = write_report(
        directory, summary, [retention, revenue], title=f"{runtime.settings.shop_name}: customers and cohorts"
    )
    with shop.uow() as uow:
        sizes = [(s.name, s.member_count) for s in segments.list_segments(uow.session) if s.enabled]
    return ShopAnalysis(summary=summary, retention=retention, revenue=revenue, report=report, segments=sizes)


def render_analysis(analysis: ShopAnalysis) -> None:
    """Print the demo's RFM map and retention table, and where the report is."""
    render_rfm(analysis.summary)
    render_cohorts(analysis.retention)
    table = Table(title="Built-in segments (as of the shop's last day)", box=box.SIMPLE)
    table.add_column("segment")
    table.add_column("customers", justify="right")
    for name, count in analysis.segments:
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(f"RFM and cohort report with charts: {analysis.report}", highlight=False)
