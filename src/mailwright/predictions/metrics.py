"""Evaluation metrics shared by model selection (training period) and the evaluation protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

FloatArray = npt.NDArray[np.float64]


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """ROC AUC, NaN when only one class is present."""
    y = np.asarray(labels)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, dtype=float)))


def pr_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Average precision (area under the precision-recall curve), NaN with one class."""
    y = np.asarray(labels)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(average_precision_score(y, np.asarray(scores, dtype=float)))


def spearman(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Spearman rank correlation, NaN when either side is constant."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if len(a) < 3 or np.all(a == a[0]) or np.all(p == p[0]):
        return float("nan")
    return float(stats.spearmanr(a, p).statistic)


def top_decile_share(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Share of total actual revenue earned by the 10 % of customers ranked highest by the prediction."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    total = a.sum()
    if total <= 0 or len(a) == 0:
        return float("nan")
    k = max(1, int(np.ceil(0.1 * len(a))))
    # A stable sort on the negated score keeps ties in input order rather than by actual value.
    top = np.argsort(-p, kind="stable")[:k]
    return float(a[top].sum() / total)


def decile_lift(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> FloatArray:
    """Mean actual value per predicted decile (highest first) divided by the overall mean."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    order = np.argsort(-p, kind="stable")
    chunks = np.array_split(a[order], 10)
    mean = a.mean() if a.size else 0.0
    return np.array([c.mean() / mean if mean > 0 and c.size else float("nan") for c in chunks])


def ranking_metrics(
    recommended: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], k: int = 10
) -> dict[str, float]:
    """Mean HR@k, Recall@k and NDCG@k over the customers that have relevant items."""
    hits, recalls, ndcgs = [], [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for customer, truth in relevant.items():
        if not truth:
            continue
        top = list(recommended.get(customer, ()))[:k]
        gains = np.array([1.0 if item in truth else 0.0 for item in top])
        n_hit = float(gains.sum())
        hits.append(1.0 if n_hit > 0 else 0.0)
        recalls.append(n_hit / len(truth))
        ideal = discounts[: min(len(truth), k)].sum()
        ndcgs.append(float((gains * discounts[: len(gains)]).sum() / ideal))
    if not hits:
        return {"hr": float("nan"), "recall": float("nan"), "ndcg": float("nan"), "customers": 0.0}
    return {
        "hr": float(np.mean(hits)),
        "recall": float(np.mean(recalls)),
        "ndcg": float(np.mean(ndcgs)),
        "customers": float(len(hits)),
    }
