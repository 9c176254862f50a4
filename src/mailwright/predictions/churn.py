"""Churn risk: probability of no order within a horizon, from a calibrated classifier trained in the past."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mailwright.predictions.features import (
    LOG_RFM_COLUMNS,
    customer_features,
    feature_columns,
    labelled,
    stacked_training_frame,
    training_cutoffs,
)
from mailwright.predictions.frames import (
    DAY,
    ModelStatus,
    as_utc,
    horizon_from_history,
    validate_transactions,
)
from mailwright.predictions.metrics import pr_auc, roc_auc

FloatArray = npt.NDArray[np.float64]
CHURN_CANDIDATES: tuple[str, ...] = ("logistic_rfm", "logistic_all", "gradient_boosting")


@dataclass(frozen=True)
class ChurnThresholds:
    """Minimum data for the supervised churn model; below it churn falls back to a recency-only score."""

    min_customers: int = 200
    min_history_horizons: float = 2.0
    min_per_class: int = 20


@dataclass(frozen=True)
class ChurnResult:
    """Churn probability per customer at the cut-off, the model used and its training-period validation."""

    predictions: pd.DataFrame = field(repr=False)
    status: ModelStatus
    horizon_days: float
    training_cutoff: pd.Timestamp | None
    validation: dict[str, dict[str, float]]


@dataclass(frozen=True)
class FittedClassifier:
    """A fitted purchase classifier and the feature columns it reads."""

    kind: str
    columns: tuple[str, ...]
    estimator: Any = field(repr=False)

    def probability_of_purchase(self, features: pd.DataFrame) -> FloatArray:
        """P(at least one order in the horizon) for each row of a feature frame."""
        matrix = _matrix(features, self.columns, self.kind)
        return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype=float)


def _matrix(frame: pd.DataFrame, columns: Sequence[str], kind: str) -> FloatArray:
    values = frame.loc[:, list(columns)].to_numpy(dtype=float)
    if kind == "logistic_all":
        # Money and counts are heavy-tailed: a signed log makes a linear model see orders of magnitude.
        values = np.sign(values) * np.log1p(np.abs(values))
    if kind.startswith("logistic"):
        # Linear models cannot take NaN (undefined gaps of one-time buyers); zero is the neutral value there.
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values


def make_classifier(kind: str, random_state: int = 0) -> tuple[Any, tuple[str, ...] | None]:
    """A fresh, unfitted estimator of the named kind and its fixed columns (None = all features)."""
    if kind == "logistic_rfm":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)), LOG_RFM_COLUMNS
    if kind == "logistic_all":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.03, max_iter=3000)), None
    if kind == "gradient_boosting":
        # Small, slow trees: on the development windows deeper trees overfit the few thousand customers.
        model = HistGradientBoostingClassifier(
            learning_rate=0.02,
            max_iter=200,
            max_leaf_nodes=5,
            min_samples_leaf=150,
            l2_regularization=1.0,
            random_state=random_state,
        )
        return model, None
    raise ValueError(f"unknown classifier {kind!r}")


def fit_classifier(
    train: pd.DataFrame, kind: str, calibrate: bool, random_state: int = 0
) -> FittedClassifier:
    """Fit a purchase classifier on a stacked labelled frame; sigmoid-calibrate it grouped by customer."""
    estimator, fixed = make_classifier(kind, random_state)
    columns = tuple(fixed) if fixed is not None else tuple(feature_columns(train))
    matrix = _matrix(train, columns, kind)
    target = train["y_bought"].to_numpy(dtype=int)
    groups = train["customer_id"].to_numpy()
    n_groups = len(np.unique(groups))
    if calibrate and n_groups >= 3 and min(target.sum(), len(target) - target.sum()) >= 3:
        # Grouped folds: the same customer at several cut-offs must not sit on both sides of a fold.
        splits = list(GroupKFold(n_splits=3).split(matrix, target, groups))
        # Sigmoid, not isotonic: it is monotone, so the ranking (ROC AUC) is kept while probabilities are fixed.
        estimator = CalibratedClassifierCV(estimator, method="sigmoid", cv=splits)
    estimator.fit(matrix, target)
    return FittedClassifier(kind, columns, estimator)


def recency_only_churn(features: pd.DataFrame, horizon_days: float) -> pd.Series:
    """The fallback churn score: grows with days since the last order (1 - exp(-recency / horizon))."""
    recency = features["recency_days"].clip(lower=0.0)
    return pd.Series(1.0 - np.exp(-recency.to_numpy(dtype=float) / horizon_days), index=features.index)


def _validate_once(
    frame: pd.DataFrame,
    validation_cut: pd.Timestamp,
    first_order_at: pd.Timestamp,
    horizon: float,
    candidates: Sequence[str],
    n_cutoffs: int,
    step_days: float,
) -> dict[str, dict[str, float]]:
    """Train each candidate on cut-offs whose outcomes end at `validation_cut`, score it there."""
    cuts = training_cutoffs(first_order_at, validation_cut, horizon, n_cutoffs, step_days)
    if not cuts:
        return {}
    train = stacked_training_frame(frame, cuts, horizon)
    test = labelled(frame, validation_cut, horizon)
    if train["y_bought"].nunique() < 2 or test["y_bought"].nunique() < 2:
        return {}
    report: dict[str, dict[str, float]] = {}
    labels = 1.0 - test["y_bought"].to_numpy()
    recency = recency_only_churn(test, horizon).to_numpy()
    report["recency_only"] = {"roc_auc": roc_auc(labels, recency), "pr_auc": pr_auc(labels, recency)}
    for kind in candidates:
        model = fit_classifier(train, kind, calibrate=False)
        score = 1.0 - model.probability_of_purchase(test)
        report[kind] = {"roc_auc": roc_auc(labels, score), "pr_auc": pr_auc(labels, score)}
    return report


def _validate_candidates(
    frame: pd.DataFrame,
    latest: pd.Timestamp,
    first_order_at: pd.Timestamp,
    horizon: float,
    candidates: Sequence[str],
    n_cutoffs: int,
    step_days: float,
    n_validation_cutoffs: int = 2,
) -> dict[str, dict[str, float]]:
    """Mean validation figures over the last `n_validation_cutoffs` windows that end by `latest`."""
    runs = []
    for k in range(n_validation_cutoffs):
        validation_cut = latest - DAY * (horizon + k * step_days)
        run = _validate_once(frame, validation_cut, first_order_at, horizon, candidates, n_cutoffs, step_days)
        if run:
            runs.append(run)
    if not runs:
        return {}
    # Averaging over windows: one window is noisy enough to pick a model by chance.
    names = runs[0].keys()
    result = {name: {m: float(np.mean([r[name][m] for r in runs])) for m in runs[0][name]} for name in names}
    for name in result:
        result[name]["windows"] = float(len(runs))
    return result


def predict_churn(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    horizon_days: float | None = 92.0,
    thresholds: ChurnThresholds | None = None,
    candidates: Sequence[str] = CHURN_CANDIDATES,
    n_training_cutoffs: int = 4,
    step_days: float = 30.0,
) -> ChurnResult:
    """Churn probability (no order in the horizon) per customer at the cut-off, or the recency-only fallback.

    The classifier learns from earlier cut-offs whose outcome window ends at the cut-off; the model kind is
    chosen by ROC AUC one horizon further back, so no figure of the period after the cut-off is used.
    """
    limits = thresholds or ChurnThresholds()
    frame = validate_transactions(transactions)
    cut = as_utc(cutoff)
    history = frame.loc[frame["ordered_at"] < cut]
    horizon = float(horizon_days) if horizon_days else float(horizon_from_history(history))
    features = customer_features(frame, cut)
    if len(features):
        fallback = pd.DataFrame(
            {
                "churn_probability": recency_only_churn(features, horizon),
                "recency_days": features["recency_days"],
            }
        )
    else:
        fallback = pd.DataFrame(columns=["churn_probability", "recency_days"], dtype=float)
    if history.empty:
        return ChurnResult(
            fallback, ModelStatus("recency_only", True, "no orders before the cut-off"), horizon, None, {}
        )
    first_order_at = history["ordered_at"].min()
    train_cut = cut - DAY * horizon
    history_days = (cut - first_order_at) / DAY
    n_train_customers = int((history["ordered_at"] < train_cut).groupby(history["customer_id"]).any().sum())
    reason = ""
    if history_days < limits.min_history_horizons * horizon:
        reason = f"{history_days:.0f} days of history < {limits.min_history_horizons:g} x {horizon:.0f}-day horizon"
    elif n_train_customers < limits.min_customers:
        reason = (
            f"{n_train_customers} customers with orders before the training cut-off < {limits.min_customers}"
        )
    cuts = training_cutoffs(first_order_at, cut, horizon, n_training_cutoffs, step_days)
    train = stacked_training_frame(frame, cuts, horizon) if cuts and not reason else pd.DataFrame()
    if not reason:
        positives = int(train["y_bought"].sum())
        negatives = len(train) - positives
        if min(positives, negatives) < limits.min_per_class:
            reason = f"{positives} buyers / {negatives} churners in training < {limits.min_per_class} of each"
    if reason:
        return ChurnResult(fallback, ModelStatus("recency_only", True, reason), horizon, None, {})
    validation = _validate_candidates(
        frame, cut, first_order_at, horizon, candidates, n_training_cutoffs, step_days
    )
    scored = {k: v["roc_auc"] for k, v in validation.items() if k in candidates and np.isfinite(v["roc_auc"])}
    # Without a validation window the simplest model is the safer default.
    chosen = max(scored, key=lambda k: scored[k]) if scored else candidates[0]
    model = fit_classifier(train, chosen, calibrate=True)
    probability = 1.0 - model.probability_of_purchase(features)
    predictions = pd.DataFrame(
        {"churn_probability": np.clip(probability, 0.0, 1.0), "recency_days": features["recency_days"]},
        index=features.index,
    )
    note = "" if scored else "no validation window in the history: default model"
    return ChurnResult(predictions, ModelStatus(chosen, False, note), horizon, train_cut, validation)
