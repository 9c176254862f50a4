"""PNG charts of the evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from mailwright.predictions.metrics import decile_lift

FloatArray = npt.NDArray[np.float64]


def calibration_chart(labels: FloatArray, probabilities: FloatArray, path: Path, bins: int = 10) -> Path:
    """Reliability curve of churn probabilities: mean predicted vs observed churn per probability decile."""
    order = np.argsort(probabilities, kind="stable")
    groups = np.array_split(order, bins)
    predicted = [float(np.mean(probabilities[g])) for g in groups if len(g)]
    observed = [float(np.mean(labels[g])) for g in groups if len(g)]
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(predicted, observed, marker="o", label="churn model (deciles)")
    axes.set_xlabel("predicted churn probability")
    axes.set_ylabel("observed churn rate")
    axes.set_title("Churn calibration, Online Retail (out of time)")
    axes.legend()
    return _save(figure, path)


def frequency_chart(frequency: FloatArray, predicted: FloatArray, actual: FloatArray, path: Path) -> Path:
    """BG/NBD conditional expectation: mean predicted vs actual holdout purchases by calibration frequency."""
    capped = np.minimum(frequency, 7)
    levels = np.arange(0, 8)
    mean_predicted = [
        float(np.mean(predicted[capped == v])) if np.any(capped == v) else np.nan for v in levels
    ]
    mean_actual = [float(np.mean(actual[capped == v])) if np.any(capped == v) else np.nan for v in levels]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(levels, mean_actual, marker="o", label="actual")
    axes.plot(levels, mean_predicted, marker="s", linestyle="--", label="BG/NBD")
    axes.set_xticks(levels, [str(v) for v in levels[:-1]] + ["7+"])
    axes.set_xlabel("repeat purchases in calibration (39 weeks)")
    axes.set_ylabel("mean repeat purchases in holdout (39 weeks)")
    axes.set_title("CDNOW sample: conditional expectations")
    axes.legend()
    return _save(figure, path)


def lift_chart(actual: FloatArray, predictions: dict[str, FloatArray], path: Path) -> Path:
    """Lift by predicted-revenue decile (1 = highest): mean actual revenue over the overall mean."""
    figure, axes = plt.subplots(figsize=(6, 4))
    deciles = np.arange(1, 11)
    width = 0.8 / max(len(predictions), 1)
    for i, (name, values) in enumerate(predictions.items()):
        axes.bar(deciles + i * width - 0.4 + width / 2, decile_lift(actual, values), width=width, label=name)
    axes.axhline(1.0, color="grey", linestyle="--")
    axes.set_xticks(deciles)
    axes.set_xlabel("decile of predicted 92-day revenue (1 = highest)")
    axes.set_ylabel("lift (mean actual / overall mean)")
    axes.set_title("Online Retail: revenue lift by predicted decile")
    axes.legend()
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
