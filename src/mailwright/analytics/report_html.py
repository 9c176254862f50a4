"""The HTML report: one page with the report's tables and charts, written beside its images."""

from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session

from mailwright.analytics import charts
from mailwright.analytics.schemas import MetricOut, Report

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_COLUMNS = (
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("unique_opens", "unique opens"),
    ("machine_opens", "machine opens"),
    ("unique_clicks", "unique clicks"),
    ("unsubscribes", "unsubscribes"),
    ("complaints", "complaints"),
    ("conversions", "conversions"),
)


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _money(minor: float | None) -> str:
    return "-" if minor is None else f"{minor / 100:,.2f}"


def _table(rows: Sequence[MetricOut]) -> Markup:
    if not rows:
        return Markup('<p class="note">Nothing sent in this period.</p>')
    head = "".join(f"<th>{label}</th>" for _, label in _COLUMNS)
    lines = [
        f"<table><tr><th>{escape(rows[0].dimension)}</th>{'<th>day</th>' if rows[0].day else ''}{head}"
        "<th>click-to-open</th><th>revenue</th><th>revenue / recipient</th></tr>"
    ]
    for row in rows:
        cells = "".join(f"<td>{getattr(row, name):,}</td>" for name, _ in _COLUMNS)
        day = f"<td>{escape(row.day)}</td>" if row.day else ""
        lines.append(
            f"<tr><td>{escape(row.name)}</td>{day}{cells}<td>{_pct(row.rates.get('click_to_open_rate'))}</td>"
            f"<td>{_money(row.revenue_minor)}</td><td>{_money(row.rates.get('revenue_per_recipient_minor'))}</td></tr>"
        )
    lines.append("</table>")
    return Markup("".join(lines))


def customer_charts(
    session: Session, currency: str, as_of: datetime, directory: Path
) -> list[tuple[str, Path]]:
    """The segments issue's pictures for the report: the RFM map (as last scored) and the cohort heat maps."""
    from mailwright.segments import cohorts, rfm
    from mailwright.segments.charts import cohort_heatmap, rfm_chart

    directory.mkdir(parents=True, exist_ok=True)
    images: list[tuple[str, Path]] = []
    summary = rfm.summary(session, currency)
    if summary.segments:
        images.append(("RFM segments (as last scored)", rfm_chart(summary, directory / "rfm.png")))
    for table, title in (
        (cohorts.cohort_table(session, as_of, metric="retention"), "Retention"),
        (cohorts.cohort_table(session, as_of, metric="revenue"), "Revenue per customer"),
    ):
        if table.cohorts:
            path = directory / f"cohorts_{table.metric}.png"
            images.append((f"{title} by monthly cohort", cohort_heatmap(table, path)))
    return images


def write_html(
    report: Report,
    path: Path,
    *,
    synthetic_note: str | None = None,
    extra_images: Sequence[tuple[str, Path]] = (),
) -> Path:
    """Write the report to `path`, its charts into `<name>_charts/` beside it; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chart_dir = path.parent / f"{path.stem}_charts"
    images: dict[str, str] = {}
    revenue_rows = report.by_flow + report.by_campaign
    if revenue_rows:
        charts.revenue_by_flow(revenue_rows, report.currency, chart_dir / "revenue_by_flow.png")
        images["revenue"] = f"{chart_dir.name}/revenue_by_flow.png"
    if report.by_day:
        charts.engagement_over_time(report.by_day, chart_dir / "engagement.png")
        images["engagement"] = f"{chart_dir.name}/engagement.png"
    if report.by_flow_node:
        charts.funnel(report.by_flow_node, chart_dir / "funnel.png")
        images["funnel"] = f"{chart_dir.name}/funnel.png"
    allocation: list[str | None] = []
    for index, split in enumerate(report.flow_tests):
        if not split["allocation"]:
            allocation.append(None)
            continue
        name = f"allocation_{index}.png"
        charts.allocation_chart(split, chart_dir / name)
        allocation.append(f"{chart_dir.name}/{name}")
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["j2", "html"]))
    env.globals.update(table=_table, pct=_pct, money=_money)
    relative = [(title, image.relative_to(path.parent).as_posix()) for title, image in extra_images]
    html = env.get_template("report.html.j2").render(
        report=report,
        charts=images,
        synthetic_note=synthetic_note,
        extra_images=relative,
        allocation_charts=allocation,
    )
    path.write_text(html, encoding="utf-8")
    return path
