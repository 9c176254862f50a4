"""`mailwright report`: what each flow, campaign and template earned, holdout lifts, A/B results, health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mailwright.analytics.schemas import MetricOut, Report
from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.core.errors import InvalidInput

report_app = typer.Typer(help="What each email earned: metrics, attribution, holdout lift, A/B tests.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _metric_table(title: str, rows: list[MetricOut], currency: str) -> Table:
    table = Table(title=title)
    for column in (
        "name",
        "sent",
        "delivered",
        "opens",
        "clicks",
        "CTOR",
        "unsubs",
        "orders",
        f"revenue {currency}",
    ):
        table.add_column(column, justify="left" if column == "name" else "right")
    for row in rows:
        ctor = row.rates.get("click_to_open_rate")
        table.add_row(
            row.name,
            f"{row.sent:,}",
            f"{row.delivered:,}",
            f"{row.unique_opens:,}",
            f"{row.unique_clicks:,}",
            "-" if ctor is None else f"{ctor:.1%}",
            f"{row.unsubscribes:,}",
            f"{row.conversions:,}",
            f"{row.revenue_minor / 100:,.2f}",
        )
    return table


def print_report(report: Report) -> None:
    """Print the report's tables."""
    console.print(f"Report {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC")
    for title, rows in (
        ("By flow", report.by_flow),
        ("By campaign", report.by_campaign),
        ("By flow node", report.by_flow_node),
        ("By template", report.by_template),
    ):
        if rows:
            console.print(_metric_table(title, rows, report.currency))
    if report.lifts:
        lifts = Table(title="Holdout lift (sent - held out, 95 % interval)")
        for column in ("flow", "sent", "held out", "conversion diff", "incremental revenue"):
            lifts.add_column(column, justify="left" if column == "flow" else "right")
        for lift in report.lifts:
            if lift.conversion is None or lift.incremental_revenue_minor is None:
                lifts.add_row(lift.flow, str(lift.n_sent), str(lift.n_holdout), lift.reason or "-", "-")
                continue
            c, (est, low, high) = lift.conversion, lift.incremental_revenue_minor
            lifts.add_row(
                lift.flow,
                f"{lift.n_sent:,}",
                f"{lift.n_holdout:,}",
                f"{c['difference']:+.2%} ({c['low']:+.2%} to {c['high']:+.2%})",
                f"{est / 100:+,.2f} ({low / 100:+,.2f} to {high / 100:+,.2f})",
            )
        console.print(lifts)
    for test in report.ab_tests:
        console.print(f"A/B {test.get('campaign')}: winner {test.get('winner')} - {test.get('reason')}")
    health = report.deliverability
    console.print(
        f"Deliverability: {health.get('status')}, bounce rate {health.get('bounce_rate', 0):.2%}, "
        f"complaint rate {health.get('complaint_rate', 0):.3%}"
    )


@report_app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow (name or id).")] = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Only this campaign (name or id).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Start (UTC); default 30 days ago.")
    ] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="End (UTC); default now.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the HTML report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Metrics by flow, node, campaign and template; holdout lifts; A/B decisions; deliverability."""
    if ctx.invoked_subcommand is not None:
        return
    # Imported here: the estimators load scipy, which the rest of the CLI need not wait for.
    from mailwright.analytics.service import build_report, flow_id_by_name_or_id

    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        flow_id = campaign_id = None
        if flow is not None:
            flow_id = flow_id_by_name_or_id(uow.session, flow)
        if campaign is not None:
            from mailwright.campaigns import service as campaigns

            campaign_id = campaigns.get_campaign(
                uow.session, int(campaign) if campaign.isdecimal() else campaign
            ).id
        result = build_report(
            uow,
            runtime.settings,
            since=_aware(since),
            until=_aware(until),
            flow_id=flow_id,
            campaign_id=campaign_id,
        )
    if html is not None:
        from mailwright.analytics.report_html import write_html

        write_html(result, html)
    if as_json:
        print_json(result)
        return
    print_report(result)
    if html is not None:
        console.print(f"HTML report: {html}")


@report_app.command("hillstrom")
def hillstrom_check(
    path: Annotated[Path | None, typer.Argument(help="The Hillstrom CSV; default ../shared/data.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the lift estimators on Hillstrom's randomized e-mail test (e-mailed arms vs no e-mail)."""
    from mailwright.analytics import hillstrom
    from mailwright.predictions.datasets import shared_data_dir

    with domain_errors():
        source = path or shared_data_dir(Path.cwd()) / "hillstrom" / "hillstrom.csv"
        if not source.exists():
            raise InvalidInput(f"{source} not found", field="path")
        comparisons = hillstrom.compare_arms(hillstrom.load(source))
    rows = [
        {
            "arm": c.arm,
            "outcome": c.outcome,
            "emailed": c.estimate.treated,
            "no_email": c.estimate.control,
            "difference": c.estimate.difference,
            "low": c.estimate.low,
            "high": c.estimate.high,
        }
        for c in comparisons
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Hillstrom: e-mailed arm - no e-mail arm (95 % interval)")
    for column in ("arm", "outcome", "e-mailed", "no e-mail", "difference", "interval"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["arm"]),
            str(row["outcome"]),
            f"{row['emailed']:.4f}",
            f"{row['no_email']:.4f}",
            f"{row['difference']:+.4f}",
            f"{row['low']:+.4f} to {row['high']:+.4f}",
        )
    console.print(table)
