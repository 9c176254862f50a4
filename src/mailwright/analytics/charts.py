"""The report's charts: revenue by flow, engagement over time, the funnel of each flow's nodes, split allocation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # No display here, and no GUI toolkit to load.

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mailwright.analytics.schemas import MetricOut
from mailwright.analytics.splits import SplitResult


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def revenue_by_flow(rows: list[MetricOut], currency: str, path: Path) -> Path:
    """Attributed revenue of each flow and campaign, largest first."""
    ordered = sorted(rows, key=lambda r: r.revenue_minor, reverse=True)[:15]
    figure, axes = plt.subplots(figsize=(8, 0.45 * max(len(ordered), 2) + 1.2))
    axes.barh(
        [r.name for r in ordered][::-1], [r.revenue_minor / 100 for r in ordered][::-1], color="#3b6ea5"
    )
    axes.set_xlabel(f"attributed revenue ({currency})")
    axes.set_title("Revenue attributed to each flow (last click)")
    return _save(figure, path)


def engagement_over_time(rows: list[MetricOut], path: Path) -> Path:
    """Messages sent, unique opens and unique clicks per day."""
    days = sorted({r.day for r in rows if r.day})
    totals = {d: [0, 0, 0] for d in days}
    for row in rows:
        if row.day:
            totals[row.day][0] += row.sent
            totals[row.day][1] += row.unique_opens
            totals[row.day][2] += row.unique_clicks
    figure, axes = plt.subplots(figsize=(9, 3.6))
    for index, label in enumerate(("sent", "unique opens", "unique clicks")):
        axes.plot(range(len(days)), [totals[d][index] for d in days], label=label)
    step = max(1, len(days) // 10)
    axes.set_xticks(range(0, len(days), step), [d[5:] for d in days][::step])
    axes.set_title("Engagement over time")
    axes.legend()
    return _save(figure, path)


def funnel(rows: list[MetricOut], path: Path) -> Path:
    """Delivered, opened, clicked and converted per flow node."""
    ordered = sorted(rows, key=lambda r: r.key)[:20]
    figure, axes = plt.subplots(figsize=(9, 0.5 * max(len(ordered), 2) + 1.5))
    labels = [r.name for r in ordered]
    for offset, (label, values) in enumerate(
        (
            ("delivered", [r.delivered for r in ordered]),
            ("opened", [r.unique_opens for r in ordered]),
            ("clicked", [r.unique_clicks for r in ordered]),
            ("converted", [r.conversions for r in ordered]),
        )
    ):
        axes.barh([i + offset * 0.2 for i in range(len(ordered))], values, height=0.2, label=label)
    axes.set_yticks([i + 0.3 for i in range(len(ordered))], labels)
    axes.invert_yaxis()
    axes.set_title("Funnel per flow node")
    axes.legend()
    return _save(figure, path)


def allocation_over_time(result: SplitResult, path: Path) -> Path:
    """The share of a split node's runs sent down each branch per day (a bandit's shift shows here)."""
    allocation = [(a.day.isoformat(), a.runs) for a in result.allocation]
    return _allocation(result.node_id, result.mode, [b.label for b in result.branches], allocation, path)


def allocation_chart(split: dict[str, Any], path: Path) -> Path:
    """`allocation_over_time` for a split result in its report form (`splits.as_dict`)."""
    allocation = [(a["day"], a["runs"]) for a in split["allocation"]]
    labels = [b["label"] for b in split["branches"]]
    return _allocation(split["node_id"], split["mode"], labels, allocation, path)


def _allocation(
    node_id: str, mode_name: str, labels: list[str], allocation: list[tuple[str, dict[str, int]]], path: Path
) -> Path:
    days = [day for day, _ in allocation]
    totals = [max(sum(runs.values()), 1) for _, runs in allocation]
    shares = [
        [100 * runs.get(label, 0) / t for (_, runs), t in zip(allocation, totals, strict=True)]
        for label in labels
    ]
    figure, axes = plt.subplots(figsize=(9, 3.6))
    if days:
        axes.stackplot(range(len(days)), shares, labels=labels)
        step = max(1, len(days) // 10)
        axes.set_xticks(range(0, len(days), step), [d[5:] for d in days][::step])
    axes.set_ylim(0, 100)
    axes.set_ylabel("share of runs (%)")
    mode = "Thompson-sampling bandit" if mode_name == "thompson" else "fixed split"
    axes.set_title(f"Allocation over time: node {node_id} ({mode})")
    axes.legend(loc="upper left")
    return _save(figure, path)
