"""PNG charts of RFM and cohorts (matplotlib, Agg backend: no display needed), in the predictions' style."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from mailwright.segments.cohorts import CohortTable
from mailwright.segments.rfm_schemas import RfmSummary

# Past this many cohorts or periods the numbers no longer fit in the cells; the colours still read.
_ANNOTATE_UP_TO = 16


def cohort_heatmap(table: CohortTable, path: Path) -> Path:
    """Heat map of a cohort table: cohorts down, periods since the first order across, cells annotated."""
    rows = len(table.cohorts)
    grid = np.array(
        [[np.nan if v is None else v for v in row.values] for row in table.cohorts] or [[np.nan]],
        dtype=np.float64,
    )
    percent = table.metric == "retention"
    shown = grid * 100 if percent else grid
    # Period 0 of retention is 100 % by definition: leave it out of the colour scale so the rest reads.
    scaled = shown[:, 1:] if percent and shown.shape[1] > 1 else shown
    top = float(np.nanmax(scaled)) if np.isfinite(scaled).any() else 1.0
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * grid.shape[1] + 3), max(3.0, 0.4 * rows + 1.5)))
    image = axes.imshow(np.ma.masked_invalid(shown), cmap="YlGnBu", aspect="auto", vmin=0, vmax=top or 1.0)
    unit = "%" if percent else (table.currency or "")
    figure.colorbar(image, ax=axes, label=f"{table.metric.replace('_', ' ')} ({unit})".replace(" ()", ""))
    axes.set_yticks(range(rows), [f"{r.cohort} ({r.customers:,})" for r in table.cohorts])
    axes.set_xticks(range(grid.shape[1]), [str(k) for k in range(grid.shape[1])])
    axes.set_xlabel(f"{table.period}s since first order")
    axes.set_ylabel("acquisition cohort (customers)")
    axes.set_title(_wrap(table.label))
    if rows <= _ANNOTATE_UP_TO and grid.shape[1] <= _ANNOTATE_UP_TO:
        for (i, k), value in np.ndenumerate(shown):
            if np.isfinite(value):
                text = f"{value:.0f}" if percent or value >= 100 else f"{value:.1f}"
                colour = "white" if value > 0.6 * (top or 1.0) else "black"
                axes.text(k, i, text, ha="center", va="center", fontsize=7, color=colour)
    return _save(figure, path)


def rfm_chart(summary: RfmSummary, path: Path) -> Path:
    """Customers per named RFM segment (bars) beside the R x FM grid of customer counts (heat map)."""
    figure, (bars, grid_axes) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    names = [s.name for s in summary.segments]
    counts = [s.customers for s in summary.segments]
    positions = np.arange(len(names))
    bars.barh(positions, counts, color="#4c72b0")
    bars.set_yticks(positions, names)
    bars.invert_yaxis()
    bars.set_xlabel("customers")
    for y, (count, segment) in enumerate(zip(counts, summary.segments, strict=True)):
        bars.text(count, y, f" {count:,} ({segment.revenue_share:.0%} of revenue)", va="center", fontsize=8)
    # Room on the right for the labels of the longest bars.
    bars.set_xlim(0, max([*counts, 1]) * 1.45)
    bars.set_title("Customers per RFM segment")
    grid = np.array(summary.scores.r_by_fm, dtype=np.float64)
    image = grid_axes.imshow(grid, cmap="YlGnBu", origin="lower", aspect="auto")
    figure.colorbar(image, ax=grid_axes, label="customers")
    grid_axes.set_xticks(range(5), [str(s) for s in range(1, 6)])
    grid_axes.set_yticks(range(5), [str(s) for s in range(1, 6)])
    grid_axes.set_xlabel("FM score (frequency and monetary)")
    grid_axes.set_ylabel("recency score")
    top = float(grid.max()) or 1.0
    for (r, fm), value in np.ndenumerate(grid):
        colour = "white" if value > 0.6 * top else "black"
        grid_axes.text(fm, r, f"{int(value):,}", ha="center", va="center", fontsize=8, color=colour)
    grid_axes.set_title("Customers by R x FM score")
    return _save(figure, path)


def _wrap(text: str, width: int = 70) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
