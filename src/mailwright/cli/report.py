"""`mailwright report`: what each flow, campaign and template earned, holdout lifts, A/B results, health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mailwright.analytics.schemas import MetricOut, Report
from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.core.errors import InvalidInput

if TYPE_CHECKING:
    from mailwright.analytics.demo import MeasuredDemo

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


def split_table(split: dict[str, Any]) -> Table:
    """One flow split's A/B result: per branch runs, reward rate, lift over the first and P(best)."""
    table = Table(
        title=f"{split['flow']}: split {split['node_id']} ({split['mode']}, reward {split['reward']} "
        f"within {split['window_hours']:g} h)"
    )
    for column in ("branch", "runs", "rewarded", "rate", "lift vs first (95 % interval)", "P(best)"):
        table.add_column(column, justify="left" if column == "branch" else "right")
    for branch in split["branches"]:
        lift = branch["lift"]
        table.add_row(
            branch["label"],
            f"{branch['runs']:,}",
            f"{branch['conversions']:,}",
            f"{branch['conversion_rate']:.2%}",
            f"{lift['difference']:+.2%} ({lift['low']:+.2%} to {lift['high']:+.2%})" if lift else "-",
            "-" if branch["probability_best"] is None else f"{branch['probability_best']:.1%}",
        )
    return table


def render_measured(measured: MeasuredDemo) -> None:
    """The demo's closing report: what each flow earned, its holdout lift next to the truth, A/B, health."""
    report = measured.report
    revenue = {row.name: row for row in report.by_flow}
    earned = Table(
        title=f"What each flow earned, {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d} (synthetic reactions)"
    )
    for column in ("flow", "sent", "clicks", "attributed", "incremental revenue (95 % interval)"):
        earned.add_column(column, justify="left" if column == "flow" else "right")
    for lift in report.lifts:
        row = revenue.get(lift.flow)
        extra = lift.incremental_revenue_minor
        earned.add_row(
            lift.flow,
            f"{row.sent:,}" if row else "0",
            f"{row.unique_clicks:,}" if row else "0",
            f"{row.revenue_minor / 100:,.0f}" if row else "0",
            f"{extra[0] / 100:+,.0f} [{extra[1] / 100:+,.0f}, {extra[2] / 100:+,.0f}]" if extra else "-",
        )
    console.print(earned)
    check = Table(title="Holdout estimate (95 % interval) vs the true effect the response model put in")
    for column in ("flow", "sent/held", "conversion", "true", "revenue/recipient", "true", "in"):
        check.add_column(column, justify="left" if column == "flow" else "right")
    for line in measured.checks:
        conversion, money = line.conversion, line.revenue_per_recipient_minor
        check.add_row(
            line.flow,
            f"{line.n_sent:,}/{line.n_holdout:,}",
            f"{conversion[0]:+.1%} [{conversion[1]:+.1%}, {conversion[2]:+.1%}]" if conversion else "-",
            f"{line.true_conversion:+.1%}",
            f"{money[0] / 100:+.1f} [{money[1] / 100:+.1f}, {money[2] / 100:+.1f}]" if money else "-",
            f"{line.true_revenue_per_recipient_minor / 100:+.1f}",
            {True: "yes", False: "NO", None: "-"}[line.covered],
        )
    console.print(check)
    judged = [c.covered for c in measured.checks if c.covered is not None]
    console.print(
        f"{sum(judged)} of {len(judged)} flows: both intervals contain the true effect (each 95 % interval misses "
        f"by chance about 1 time in 20). Revenue per recipient is capped at the 99th percentile (docs/metrics.md).",
        highlight=False,
    )
    for split in report.flow_tests:
        console.print(split_table(split))
    health = report.deliverability
    console.print(
        f"Deliverability: {health.get('status')}, sent {health.get('sent', 0):,}, bounce rate "
        f"{health.get('bounce_rate', 0):.2%}, complaint rate {health.get('complaint_rate', 0):.3%}. "
        f"Money in {report.currency}. Full report with charts: {measured.html}",
        highlight=False,
    )


def print_report(report: Report) -> None:
    """Print the report's tables."""
    console.print(f"Report {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC")
    for title, rows in (
        ("By flow", report.by_flow),
        ("By campaign", report.by_campaign),
        ("By flow node", report.by_flow_node),
        ("By template", report.by_template),
        ("By segment (the recipient's segments when sent)", report.by_segment),
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
        for v in test.get("variants", []):
            lift = v.get("lift")
            shown = (
                f", lift {lift['difference']:+.2%} ({lift['low']:+.2%} to {lift['high']:+.2%})"
                if lift
                else ""
            )
            console.print(
                f"  {v['name']}: {v['successes']} of {v['recipients']}, P(best) {v['probability_best']:.1%}{shown}",
                highlight=False,
            )
    for split in report.flow_tests:
        console.print(split_table(split))
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
            from mailwright.analytics.report_html import customer_charts, write_html

            images = customer_charts(
                uow.session, result.currency, result.until, html.parent / f"{html.stem}_charts"
            )
            write_html(result, html, extra_images=images)
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
