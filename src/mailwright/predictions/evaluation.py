"""The evaluation protocols of ../shared/data/README.md run on real data, as a table and docs/predictions.md."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mailwright.predictions import charts
from mailwright.predictions.churn import fit_classifier, predict_churn
from mailwright.predictions.clv import (
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    summary_data,
)
from mailwright.predictions.datasets import load_cdnow, load_online_retail, shared_data_dir
from mailwright.predictions.features import customer_features, outcomes, stacked_training_frame
from mailwright.predictions.frames import DAY, as_utc, before, in_days, window
from mailwright.predictions.metrics import pr_auc, ranking_metrics, roc_auc, spearman, top_decile_share
from mailwright.predictions.ranker import fit_recommender
from mailwright.predictions.recommend import excluded_products, p_top_freq
from mailwright.predictions.value import bgnbd_gg_forecast, predict_value

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
DEFAULT_CUTOFF = pd.Timestamp("2011-09-09", tz="UTC")


@dataclass(frozen=True)
class EvaluationRow:
    """One measured figure: what, by which model, its value, the baselines measured beside it, the goal."""

    protocol: str
    metric: str
    model: str
    value: float
    baselines: dict[str, float] = field(default_factory=dict)
    reference: str = ""
    goal: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class EvaluationReport:
    """All rows of an evaluation run, the charts written and the run time."""

    rows: list[EvaluationRow]
    charts: list[Path]
    seconds: float
    notes: list[str]


def evaluate_cdnow(
    sample_path: Path, chart_dir: Path | None = None
) -> tuple[list[EvaluationRow], list[Path]]:
    """CDNOW sample: BG/NBD and Gamma-Gamma parameters, holdout correlation, week-78 cumulative error."""
    transactions = load_cdnow(sample_path)
    calibration_end = pd.Timestamp("1997-10-01", tz="UTC")
    holdout_end = pd.Timestamp("1998-07-01", tz="UTC")
    summary = summary_data(transactions, calibration_end, 7.0)
    bg = fit_bgnbd(summary, 7.0)
    gg = fit_gamma_gamma(summary)
    rows = []
    fitted = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "p": gg.p, "q": gg.q, "v": gg.v}
    for name, published in {**PUBLISHED_BGNBD, **PUBLISHED_GG}.items():
        error = abs(fitted[name] / published - 1.0)
        rows.append(
            EvaluationRow(
                "cdnow",
                f"{'BG/NBD' if name in PUBLISHED_BGNBD else 'Gamma-Gamma'} {name}",
                "mailwright MLE",
                fitted[name],
                {},
                f"{published}",
                "within 0.5 %",
                bool(error <= 0.005),
            )
        )
    rows.append(
        EvaluationRow("cdnow", "BG/NBD log-likelihood", "mailwright MLE", bg.log_likelihood, {}, "-9582.4")
    )
    holdout = window(transactions, calibration_end, holdout_end)
    actual = (
        holdout.assign(day=holdout["ordered_at"].dt.floor("D"))
        .groupby("customer_id")["day"]
        .nunique()
        .reindex(summary.index, fill_value=0)
        .to_numpy()
        .astype(np.float64)
    )
    x, tx, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    predicted = expected_purchases(bg, 39.0, x, tx, big_t)
    correlation = float(np.corrcoef(predicted, actual)[0, 1])
    rows.append(EvaluationRow("cdnow", "holdout correlation (39 weeks)", "BG/NBD", correlation, {}, "0.626"))
    days = transactions.assign(day=transactions["ordered_at"].dt.floor("D"))
    first = days.groupby("customer_id")["day"].min()
    age_weeks = in_days(holdout_end - DAY - first, 7.0).to_numpy(dtype=float)
    forecast = float(expected_purchases_new_customer(bg, age_weeks).sum())
    repeat_actual = float(
        (days.loc[days["day"] < holdout_end].groupby("customer_id")["day"].nunique() - 1).sum()
    )
    rows.append(
        EvaluationRow(
            "cdnow",
            "week-78 cumulative repeat purchases error",
            "BG/NBD",
            forecast / repeat_actual - 1.0,
            {"actual": repeat_actual, "forecast": forecast},
            "about -4 % (under-forecast)",
        )
    )
    written = []
    if chart_dir is not None:
        written.append(charts.frequency_chart(x, predicted, actual, chart_dir / "bgnbd_cdnow_frequency.png"))
    return rows, written


def _relevant_items(
    transactions: pd.DataFrame, cutoff: pd.Timestamp, horizon: float
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Relevant items per customer buying in both periods: all, and new to the customer."""
    excluded = excluded_products()
    past = before(transactions, cutoff)
    future = window(transactions, cutoff, cutoff + DAY * horizon)
    sold = set(past["product_id"]) - excluded
    known = set(past["customer_id"])
    owned = {str(c): set(g) for c, g in past.groupby("customer_id")["product_id"]}
    relevant = {str(c): set(g) & sold for c, g in future.groupby("customer_id")["product_id"] if c in known}
    relevant = {c: v for c, v in relevant.items() if v}
    new = {c: v - owned.get(c, set()) for c, v in relevant.items()}
    return relevant, {c: v for c, v in new.items() if v}


def evaluate_online_retail(
    path: Path,
    cutoff: datetime | pd.Timestamp = DEFAULT_CUTOFF,
    horizon_days: float = 92.0,
    chart_dir: Path | None = None,
) -> tuple[list[EvaluationRow], list[Path], list[str]]:
    """Out-of-time protocol on an Online Retail file: churn, revenue, orders, recommendations, BG/NBD check."""
    cut = as_utc(cutoff)
    transactions = load_online_retail(path)
    future_end = cut + DAY * horizon_days
    if transactions["ordered_at"].max() < future_end - DAY:
        raise ValueError(f"the data end before the outcome window does ({future_end.date()})")
    rows: list[EvaluationRow] = []
    notes: list[str] = []
    written: list[Path] = []
    features = customer_features(transactions, cut)
    actual = outcomes(transactions, cut, horizon_days).reindex(features.index, fill_value=0.0)
    churned = 1.0 - actual["bought"].to_numpy(dtype=float)

    summary = summary_data(transactions, cut, 7.0)
    bg = fit_bgnbd(summary, 7.0)
    p_alive = probability_alive(
        bg, *(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    )
    rows.append(
        EvaluationRow(
            "online_retail",
            "BG/NBD degenerate fit detected",
            "BG/NBD",
            float(bg.degenerate),
            {"min P(alive)": float(p_alive.min()), "a": bg.a, "b": bg.b},
            "P(alive)=1 for all: must detect",
            "detected",
            bool(bg.degenerate),
        )
    )
    notes.append(f"BG/NBD on Online Retail: {bg.reason or 'not degenerate'}")

    churn = predict_churn(transactions, cut, horizon_days)
    scores = churn.predictions["churn_probability"].reindex(features.index).to_numpy(dtype=float)
    recency = features["recency_days"].to_numpy(dtype=float)
    train = stacked_training_frame(transactions, [cut - DAY * horizon_days], horizon_days)
    logistic = fit_classifier(train, "logistic_rfm", calibrate=False)
    log_rfm = 1.0 - logistic.probability_of_purchase(features)
    churn_model = f"churn: {churn.status.model}"
    for metric, func, goal in (("churn ROC AUC", roc_auc, 0.76), ("churn PR AUC", pr_auc, None)):
        value = func(churned, scores)
        rows.append(
            EvaluationRow(
                "online_retail",
                metric,
                churn_model,
                value,
                {"recency only": func(churned, recency), "logistic log-RFM": func(churned, log_rfm)},
                "0.68 recency, 0.74 log-RFM" if goal else "",
                f">= {goal}" if goal else "",
                bool(value >= goal) if goal else None,
            )
        )
    rows.append(
        EvaluationRow(
            "online_retail",
            "churn Brier score",
            churn_model,
            float(np.mean((scores - churned) ** 2)),
            {"base rate": float(np.mean((churned.mean() - churned) ** 2))},
        )
    )
    if chart_dir is not None:
        written.append(charts.calibration_chart(churned, scores, chart_dir / "churn_calibration.png"))

    valued = predict_value(transactions, cut, horizon_days)
    predictions = valued.predictions.reindex(features.index)
    revenue = actual["revenue"].to_numpy(dtype=float)
    bg_revenue, bg_orders, _ = bgnbd_gg_forecast(transactions, cut, horizon_days, features.index)
    last90 = features["revenue_90d"].to_numpy(dtype=float)
    chosen = predictions["expected_revenue"].to_numpy(dtype=float)
    model_name = f"revenue: {valued.revenue_status.model}"
    for metric, ranking, target in (
        ("revenue Spearman", spearman, 0.55),
        ("revenue top-decile share", top_decile_share, 0.55),
    ):
        measured = ranking(revenue, chosen)
        rows.append(
            EvaluationRow(
                "online_retail",
                metric,
                model_name,
                measured,
                {
                    "last 90 days": ranking(revenue, last90),
                    "BG/NBD x GG": ranking(revenue, bg_revenue),
                    **(
                        {"hurdle": ranking(revenue, predictions["revenue_hurdle"].to_numpy(dtype=float))}
                        if "revenue_hurdle" in predictions
                        else {}
                    ),
                },
                "0.45/0.49 last-90, 0.51/0.52 BG/NBD x GG",
                f">= {target}",
                bool(measured >= target),
            )
        )
    orders = actual["orders"].to_numpy(dtype=float)
    expected_orders = predictions["expected_orders"].to_numpy(dtype=float)
    last90_orders = features["orders_90d"].to_numpy(dtype=float) * horizon_days / 90.0
    for metric, func in (
        ("orders MAE", lambda a, p: float(np.mean(np.abs(a - p)))),
        ("orders RMSE", lambda a, p: float(np.sqrt(np.mean((a - p) ** 2)))),
    ):
        rows.append(
            EvaluationRow(
                "online_retail",
                metric,
                f"orders: {valued.orders_status.model}",
                func(orders, expected_orders),
                {
                    "last 90 days": func(orders, last90_orders),
                    "BG/NBD": func(orders, bg_orders),
                    "Poisson GB": func(orders, predictions["orders_poisson_gb"].to_numpy(dtype=float)),
                },
            )
        )
    if chart_dir is not None:
        written.append(
            charts.lift_chart(
                revenue,
                {valued.revenue_status.model: chosen, "BG/NBD x GG": bg_revenue, "last 90 days": last90},
                chart_dir / "revenue_lift_by_decile.png",
            )
        )

    rows.extend(_recommendation_rows(transactions, cut, horizon_days, notes))
    return rows, written, notes


def _recommendation_rows(
    transactions: pd.DataFrame, cut: pd.Timestamp, horizon_days: float, notes: list[str]
) -> list[EvaluationRow]:
    relevant, relevant_new = _relevant_items(transactions, cut, horizon_days)
    recommender = fit_recommender(transactions, cut, horizon_days)
    notes.append(
        f"recommendations: backtest chose '{recommender.strategy_all}' for all items and "
        f"'{recommender.strategy_new}' for new items"
    )
    chosen_all = ranking_metrics(recommender.recommend(relevant, 10), relevant)
    baselines_all = {
        "P-TopFreq": ranking_metrics(p_top_freq(transactions, cut, relevant, 10), relevant),
        "ALS 64": ranking_metrics(recommender.recommend(relevant, 10, strategy="als"), relevant),
        "popularity 90d": ranking_metrics(recommender.recommend(relevant, 10, strategy="popular"), relevant),
        "blend": ranking_metrics(recommender.recommend(relevant, 10, strategy="blend"), relevant),
        "again+new": ranking_metrics(recommender.recommend(relevant, 10, strategy="again_and_new"), relevant),
    }
    chosen_new = ranking_metrics(recommender.recommend(relevant_new, 10, new_only=True), relevant_new)
    baselines_new = {
        "ALS 64": ranking_metrics(
            recommender.recommend(relevant_new, 10, new_only=True, strategy="als"), relevant_new
        ),
        "popularity 90d": ranking_metrics(
            recommender.recommend(relevant_new, 10, new_only=True, strategy="popular"), relevant_new
        ),
        "blend": ranking_metrics(
            recommender.recommend(relevant_new, 10, new_only=True, strategy="blend"), relevant_new
        ),
    }
    rows = []
    references = {
        "all": ("P-TopFreq 0.835/0.146/0.382, ALS 0.786/0.126/0.328", 0.85),
        "new": ("ALS 0.478/0.049/0.108, popularity 0.320/0.021/0.055", 0.50),
    }
    for scope, chosen, baselines, strategy in (
        ("all", chosen_all, baselines_all, recommender.strategy_all),
        ("new", chosen_new, baselines_new, recommender.strategy_new),
    ):
        reference, goal = references[scope]
        for metric in ("hr", "recall", "ndcg"):
            label = {"hr": "HR@10", "recall": "Recall@10", "ndcg": "NDCG@10"}[metric]
            rows.append(
                EvaluationRow(
                    "online_retail",
                    f"recs {scope} items {label} ({int(chosen['customers'])} customers)",
                    f"recs: {strategy}",
                    chosen[metric],
                    {k: v[metric] for k, v in baselines.items()},
                    reference,
                    f">= {goal}" if metric == "hr" else "",
                    bool(chosen[metric] >= goal) if metric == "hr" else None,
                )
            )
    return rows


def evaluate(
    data_dir: Path | None = None,
    online_retail_path: Path | None = None,
    cdnow_path: Path | None = None,
    cutoff: datetime | pd.Timestamp = DEFAULT_CUTOFF,
    horizon_days: float = 92.0,
    docs_dir: Path | None = None,
) -> EvaluationReport:
    """Run every protocol whose data is present; write docs/predictions.md and charts when docs_dir is given."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    started = time.perf_counter()
    base = data_dir or shared_data_dir(Path(__file__).resolve().parents[3])
    retail = online_retail_path or base / "online_retail" / "online_retail_2010_2011.parquet"
    cdnow = cdnow_path or base / "cdnow" / "CDNOW_sample.txt"
    chart_dir = docs_dir / "predictions" if docs_dir is not None else None
    rows: list[EvaluationRow] = []
    written: list[Path] = []
    notes: list[str] = []
    if cdnow.exists():
        cdnow_rows, cdnow_charts = evaluate_cdnow(cdnow, chart_dir)
        rows += cdnow_rows
        written += cdnow_charts
    else:
        notes.append(f"CDNOW skipped: {cdnow} not found")
    if retail.exists():
        retail_rows, retail_charts, retail_notes = evaluate_online_retail(
            retail, cutoff, horizon_days, chart_dir
        )
        rows += retail_rows
        written += retail_charts
        notes += retail_notes
    else:
        notes.append(f"Online Retail skipped: {retail} not found")
    report = EvaluationReport(rows, written, time.perf_counter() - started, notes)
    if docs_dir is not None:
        write_markdown(report, docs_dir / "predictions.md", as_utc(cutoff))
    return report


def _format(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3f}"


def write_markdown(report: EvaluationReport, path: Path, cutoff: pd.Timestamp) -> Path:
    """Write the evaluation table, the notes and links to the charts as markdown."""
    lines = [
        "# Predictions: evaluation on real data",
        "",
        "Generated by `mailwright.predictions.evaluation.evaluate`; do not edit by hand.",
        f"Online Retail cut-off {cutoff.date()}, outcome window 92 days; CDNOW sample 39 + 39 weeks.",
        "Every model and every choice between models was fitted on data before the cut-off only;",
        "models and settings were chosen on earlier windows, see predictions/development.md",
        "(`bench/predictions_dev.py`).",
        f"Run time {report.seconds:.0f} s.",
        "",
        "| protocol | metric | model | value | measured baselines | published reference | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        baselines = "; ".join(f"{k} {_format(v)}" for k, v in row.baselines.items())
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.protocol} | {row.metric} | {row.model} | {_format(row.value)} | {baselines} | "
            f"{row.reference} | {row.goal} | {met} |"
        )
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    lines += ["", "## Charts", ""] + [f"![{p.stem}](predictions/{p.name})" for p in report.charts]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
