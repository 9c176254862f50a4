"""A self-contained HTML report of the RFM map, the lifecycle stages and the cohort tables, with PNG charts."""

from __future__ import annotations

from html import escape
from pathlib import Path

from mailwright.core.money import from_minor
from mailwright.segments.charts import cohort_heatmap, rfm_chart
from mailwright.segments.cohorts import CohortTable
from mailwright.segments.rfm_schemas import RfmSummary

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #555; font-size: 13px; }
"""


def cell(value: float | None, metric: str) -> str:
    """A cohort cell as text: a percentage for retention, an amount otherwise, blank when not observed yet."""
    if value is None:
        return ""
    return f"{value:.1%}" if metric == "retention" else f"{value:,.2f}"


def _rfm_html(summary: RfmSummary) -> str:
    rows = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{s.customers:,}</td><td>{s.share:.1%}</td>"
        f"<td>{from_minor(s.revenue_minor, summary.currency):,.2f}</td><td>{s.revenue_share:.1%}</td></tr>"
        for s in summary.segments
    )
    stages = "".join(
        f"<tr><td>{escape(s.stage)}</td><td>{s.customers:,}</td><td>{s.share:.1%}</td></tr>"
        for s in summary.lifecycle
    )
    t = summary.thresholds
    thresholds = (
        f"<p class='note'>Lifecycle thresholds ({escape(t.source)}): new &lt; {t.new_days} days after a first "
        f"and only order, at risk after {t.at_risk_days} days without an order, churned after "
        f"{t.churned_days}. {escape(t.reason)}.</p>"
        if t is not None
        else ""
    )
    return (
        f"<h2>RFM map</h2><p class='note'>{summary.customers_scored:,} customers scored as of "
        f"{summary.computed_at:%Y-%m-%d %H:%M} UTC.</p>"
        if summary.computed_at is not None
        else "<h2>RFM map</h2><p class='note'>Not computed yet.</p>"
    ) + (
        "<table><caption>Named segments</caption><tr><th>segment</th><th>customers</th><th>share</th>"
        f"<th>revenue ({escape(summary.currency)})</th><th>revenue share</th></tr>{rows}</table>"
        "<img src='rfm.png' alt='Customers per RFM segment and by R x FM score'>"
        "<h2>Lifecycle stages</h2><table><tr><th>stage</th><th>customers</th><th>share</th></tr>"
        f"{stages}</table>{thresholds}"
    )


def _cohort_html(table: CohortTable, image: str) -> str:
    head = "".join(f"<th>{k}</th>" for k in range(table.periods))
    body = "".join(
        f"<tr><td>{escape(r.cohort)}</td><td>{r.customers:,}</td>"
        + "".join(f"<td>{cell(v, table.metric)}</td>" for v in r.values)
        + "</tr>"
        for r in table.cohorts
    )
    unit = "" if table.metric == "retention" else f" ({escape(table.currency or '')})"
    return (
        f"<h2>Cohorts: {escape(table.metric.replace('_', ' '))}{unit}</h2>"
        f"<p class='note'>{escape(table.label)}; {table.period}ly acquisition cohorts, as of "
        f"{table.as_of:%Y-%m-%d %H:%M} UTC; the cells of the latest {table.period} (the last diagonal) "
        "count only the orders up to that moment.</p>"
        f"<table><tr><th>cohort</th><th>customers</th>{head}</tr>{body}</table>"
        f"<img src='{escape(image)}' alt='Cohort heat map: {escape(table.metric)}'>"
    )


def write_report(directory: Path, summary: RfmSummary, tables: list[CohortTable], *, title: str) -> Path:
    """Write `segments.html` with its PNG charts into `directory`; returns the HTML file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    rfm_chart(summary, directory / "rfm.png")
    parts = [_rfm_html(summary)]
    for table in tables:
        image = f"cohorts_{table.metric}_{table.period}.png"
        cohort_heatmap(table, directory / image)
        parts.append(_cohort_html(table, image))
    path = directory / "segments.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return path
