"""Development protocol for the Online Retail predictions: choose models without looking at the test period.

The official evaluation (`mailwright predict evaluate`) scores features as of 2011-09-09 against the 92 days
after. Everything here reads only the rows before that cut-off (the file is cut there before any model sees
it), and scores each candidate on earlier cut-offs whose 92-day outcome windows end by 2011-09-09. Models are
trained, as in the product, on still earlier cut-offs whose outcomes end at the development cut-off.

    .venv/bin/python bench/predictions_dev.py [--only churn,revenue,recs] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mailwright.predictions.churn import CHURN_CANDIDATES, fit_classifier
from mailwright.predictions.datasets import load_online_retail, shared_data_dir
from mailwright.predictions.evaluation import DEFAULT_CUTOFF, _relevant_items
from mailwright.predictions.features import labelled, stacked_training_frame, training_cutoffs
from mailwright.predictions.metrics import ranking_metrics, roc_auc, spearman, top_decile_share
from mailwright.predictions.ranker import STRATEGIES, fit_recommender
from mailwright.predictions.recommend import p_top_freq
from mailwright.predictions.value import _supervised

HORIZON = 92.0
# Outcome windows [cut, cut + 92 days) all end by the test cut-off 2011-09-09.
DEV_CUTOFFS = ("2011-06-09", "2011-05-25", "2011-05-10")
# The recommender's blend needs a labelled window before the development cut-off, so it starts later.
DEV_RECS_CUTOFFS = ("2011-06-09", "2011-05-10", "2011-04-10")
# Training cut-offs 15 days apart give the early development cut-offs more than one training window.
STEP_DAYS = 15.0


def development_data(path: Path, test_cutoff: pd.Timestamp = DEFAULT_CUTOFF) -> pd.DataFrame:
    """The Online Retail transactions strictly before the test cut-off: nothing later is ever read."""
    transactions = load_online_retail(path)
    return transactions.loc[transactions["ordered_at"] < test_cutoff].reset_index(drop=True)


def _windows(frame: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]:
    first = frame["ordered_at"].min()
    result = []
    for text in DEV_CUTOFFS:
        cut = pd.Timestamp(text, tz="UTC")
        cuts = training_cutoffs(first, cut, HORIZON, 8, STEP_DAYS)
        result.append((cut, stacked_training_frame(frame, cuts, HORIZON), labelled(frame, cut, HORIZON)))
    return result


def churn_figures(windows: list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]) -> dict[str, list[float]]:
    """ROC AUC of each churn candidate (and recency alone) per development cut-off."""
    figures: dict[str, list[float]] = {}
    for _, train, test in windows:
        churned = 1.0 - test["y_bought"].to_numpy(dtype=float)
        figures.setdefault("recency_only", []).append(roc_auc(churned, test["recency_days"]))
        for kind in CHURN_CANDIDATES:
            score = 1.0 - fit_classifier(train, kind, calibrate=False).probability_of_purchase(test)
            figures.setdefault(kind, []).append(roc_auc(churned, score))
    return figures


def revenue_figures(
    frame: pd.DataFrame, windows: list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]
) -> dict[str, list[float]]:
    """Spearman and top-decile share of each revenue candidate per development cut-off."""
    figures: dict[str, list[float]] = {}
    for cut, train, test in windows:
        predicted = _supervised(frame, train, test, cut, HORIZON)
        actual = test["y_revenue"].to_numpy(dtype=float)
        for name, values in predicted.revenue.items():
            figures.setdefault(f"{name} spearman", []).append(spearman(actual, values))
            figures.setdefault(f"{name} top-decile", []).append(top_decile_share(actual, values))
    return figures


def recommendation_figures(frame: pd.DataFrame) -> dict[str, list[float]]:
    """HR@10 (all items and new items) of P-TopFreq and each ranker strategy per development cut-off."""
    figures: dict[str, list[float]] = {}
    for text in DEV_RECS_CUTOFFS:
        cut = pd.Timestamp(text, tz="UTC")
        relevant, relevant_new = _relevant_items(frame, cut, HORIZON)
        recommender = fit_recommender(frame, cut, HORIZON, validate=False)
        hr = ranking_metrics(p_top_freq(frame, cut, relevant, 10), relevant)["hr"]
        figures.setdefault("all P-TopFreq", []).append(hr)
        for strategy in STRATEGIES:
            recs = recommender.recommend(relevant, 10, strategy=strategy)
            figures.setdefault(f"all {strategy}", []).append(ranking_metrics(recs, relevant)["hr"])
            recs_new = recommender.recommend(relevant_new, 10, new_only=True, strategy=strategy)
            figures.setdefault(f"new {strategy}", []).append(ranking_metrics(recs_new, relevant_new)["hr"])
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print the development figures (one column per development cut-off, then the mean)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="Online Retail file (parquet or csv)")
    parser.add_argument("--only", default="churn,revenue,recs", help="comma-separated: churn,revenue,recs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the figures as markdown here")
    args = parser.parse_args(argv)
    base = shared_data_dir(Path(__file__).resolve().parents[1])
    path = args.data or base / "online_retail" / "online_retail_2010_2011.parquet"
    started = time.perf_counter()
    frame = development_data(path)
    parts = set(args.only.split(","))
    results: dict[str, dict[str, list[float]]] = {}
    if parts & {"churn", "revenue"}:
        windows = _windows(frame)
        if "churn" in parts:
            results["churn ROC AUC"] = churn_figures(windows)
        if "revenue" in parts:
            results["revenue"] = revenue_figures(frame, windows)
    if "recs" in parts:
        results["recs HR@10"] = recommendation_figures(frame)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    lines = []
    for section, figures in results.items():
        cuts = DEV_RECS_CUTOFFS if section.startswith("recs") else DEV_CUTOFFS
        print(f"\n{section:28s} " + " ".join(f"{c:>10s}" for c in cuts) + "       mean")
        lines += ["", f"| {section} | " + " | ".join(cuts) + " | mean |", "|---" * (len(cuts) + 2) + "|"]
        for name, values in figures.items():
            cells = " ".join(f"{v:10.4f}" for v in values)
            print(f"{name:28s} {cells} {float(np.mean(values)):10.4f}")
            lines.append(
                f"| {name} | " + " | ".join(f"{v:.4f}" for v in [*values, float(np.mean(values))]) + " |"
            )
    if args.markdown is not None:
        header = [
            "# Predictions: development figures (training period only)",
            "",
            "Generated by `bench/predictions_dev.py --markdown`; do not edit by hand. Online Retail rows before",
            "2011-09-09 only; each column is a development cut-off whose 92-day outcome window ends by then.",
            "Models and settings were chosen on these figures; docs/predictions.md holds the test figures.",
        ]
        args.markdown.write_text("\n".join(header + lines) + "\n")
    print(f"\n{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
