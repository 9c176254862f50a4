"""The blended recommendation ranker: candidates from several recommenders, scored by a learned blend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from mailwright.predictions.frames import DAY, as_utc, before, in_days, validate_transactions, window
from mailwright.predictions.metrics import ranking_metrics
from mailwright.predictions.recommend import (
    FactorModel,
    Recommendations,
    diversify,
    excluded_products,
    fit_als,
    fit_item_knn,
    interaction_matrix,
    item_stats,
    own_items,
    p_top_freq,
)

FEATURES: tuple[str, ...] = (
    "own_invoices",
    "own_quantity",
    "own_days_since",
    "own_share",
    "customer_invoices",
    "customer_recency",
    "invoices",
    "invoices_14d",
    "invoices_30d",
    "invoices_90d",
    "buyers",
    "repurchase_rate",
    "last_sold_days",
    "als_score",
    "als_rank",
    "knn_score",
    "knn_rank",
)
STRATEGIES: tuple[str, ...] = ("blend", "again_and_new", "p_top_freq", "als", "popular")
# Slots of a ten-item "again_and_new" list given to the month's most popular items new to the customer: a
# customer's own items tend to be re-bought together or not at all, so the tenth own item adds less to the
# chance of one hit than a new best-seller does (chosen on development windows before the evaluation cut-off).
NEW_SLOTS = 1
# Weight of the item's last-30-day popularity (log invoices) added to the customer's own invoice count.
AGAIN_POPULARITY_WEIGHT = 0.5
MAX_TRAINING_ROWS = 120_000


@dataclass(frozen=True)
class Candidates:
    """Scored-ready (customer, product) candidate pairs at one cut-off, plus the models that made them."""

    pairs: pd.DataFrame = field(repr=False)
    als: FactorModel = field(repr=False)
    popular: list[str]
    owned: dict[str, set[str]] = field(repr=False)
    categories: dict[str, str] = field(repr=False)
    recent_popular: list[str] = field(default_factory=list)


def _top_columns(scores: np.ndarray[Any, Any], n: int) -> np.ndarray[Any, Any]:
    n = min(n, scores.shape[1])
    return np.argpartition(-scores, n - 1, axis=1)[:, :n]


def _ranks(scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks


def build_candidates(
    transactions: pd.DataFrame, cutoff: pd.Timestamp, excluded: frozenset[str], per_source: int = 50
) -> Candidates:
    """Own items, ALS, item-kNN and popular top lists per customer, with the blend's features."""
    stats = item_stats(transactions, cutoff, excluded).table
    owned = own_items(transactions, cutoff, excluded)
    matrix = interaction_matrix(transactions, cutoff, excluded)
    als = fit_als(matrix)
    knn = fit_item_knn(matrix)
    n_customers = len(matrix.customers)
    popular = list(stats.sort_values(["invoices_90d", "invoices"], ascending=False).index[:per_source])
    popular_cols = matrix.products.get_indexer(pd.Index(popular))
    blocks = [
        _top_columns(als.scores, per_source),
        _top_columns(knn.scores, per_source),
        np.tile(popular_cols[popular_cols >= 0], (n_customers, 1)),
    ]
    rows = np.concatenate([np.repeat(np.arange(n_customers), b.shape[1]) for b in blocks])
    cols = np.concatenate([b.ravel() for b in blocks])
    own_rows = matrix.customers.get_indexer(pd.Index(owned["customer_id"]))
    own_cols = matrix.products.get_indexer(pd.Index(owned["product_id"]))
    pair_index = np.unique(
        np.concatenate([rows, own_rows]) * len(matrix.products) + np.concatenate([cols, own_cols])
    )
    r, c = np.divmod(pair_index, len(matrix.products))
    als_ranks, knn_ranks = _ranks(als.scores), _ranks(knn.scores)
    pairs = pd.DataFrame(
        {
            "customer_id": matrix.customers[r].astype(str),
            "product_id": matrix.products[c].astype(str),
            "als_score": als.scores[r, c],
            "als_rank": als_ranks[r, c].astype(float),
            "knn_score": knn.scores[r, c],
            "knn_rank": knn_ranks[r, c].astype(float),
        }
    )
    pairs = pairs.merge(owned, on=["customer_id", "product_id"], how="left")
    pairs["own_invoices"] = pairs["own_invoices"].fillna(0.0)
    pairs["own_quantity"] = pairs["own_quantity"].fillna(0.0)
    # Never bought: a recency beyond any real one, so trees can split "owned" from "not owned".
    pairs["own_days_since"] = pairs["own_days_since"].fillna(10_000.0)
    frame = before(transactions, cutoff)
    per_customer = frame.groupby("customer_id")
    customer_invoices = per_customer["order_id"].nunique().astype(float)
    customer_recency = in_days(cutoff - per_customer["ordered_at"].max())
    pairs["customer_invoices"] = pairs["customer_id"].map(customer_invoices).astype(float)
    pairs["customer_recency"] = pairs["customer_id"].map(customer_recency).astype(float)
    pairs["own_share"] = pairs["own_invoices"] / pairs["customer_invoices"]
    item_columns = ["invoices", "invoices_14d", "invoices_30d", "invoices_90d", "buyers", "repurchase_rate"]
    pairs = pairs.join(stats.loc[:, [*item_columns, "last_sold_days"]], on="product_id")
    owned_sets = {str(k): set(v) for k, v in owned.groupby("customer_id")["product_id"]}
    categories = {str(k): str(v) for k, v in stats["category"].items()}
    recent = stats.sort_values(["invoices_30d", "invoices_90d"], ascending=False).index[:per_source]
    return Candidates(pairs, als, [str(p) for p in popular], owned_sets, categories, [str(p) for p in recent])


def _labels(transactions: pd.DataFrame, start: pd.Timestamp, horizon_days: float) -> set[tuple[str, str]]:
    future = window(transactions, start, start + DAY * horizon_days)
    return set(zip(future["customer_id"].astype(str), future["product_id"].astype(str), strict=True))


def _fit_blend(pairs: pd.DataFrame, labels: set[tuple[str, str]], random_state: int = 0) -> Any:
    """Gradient-boosted classifier of 'bought in the next window' over the candidate features."""
    keys = zip(pairs["customer_id"], pairs["product_id"], strict=True)
    target = np.fromiter((key in labels for key in keys), dtype=bool, count=len(pairs))
    rng = np.random.default_rng(random_state)
    # Uniformly thinning negatives changes the odds by a constant, so the ranking is unchanged.
    keep = target | (rng.random(len(pairs)) < MAX_TRAINING_ROWS / max(len(pairs), 1))
    model = HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=120,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        early_stopping=False,
        random_state=random_state,
    )
    if target[keep].all() or not target[keep].any():
        return None
    model.fit(pairs.loc[keep, list(FEATURES)].to_numpy(dtype=float), target[keep])
    return model


@dataclass(frozen=True)
class Recommender:
    """A fitted recommender at a cut-off: ranked candidates, fallbacks, and the backtest that chose it."""

    cutoff: pd.Timestamp
    strategy_all: str
    strategy_new: str
    validation: dict[str, dict[str, float]]
    candidates: Candidates = field(repr=False)
    scored: pd.DataFrame = field(repr=False)
    transactions: pd.DataFrame = field(repr=False)

    def recommend(
        self,
        customer_ids: Iterable[str],
        k: int = 10,
        new_only: bool = False,
        max_per_category: int | None = None,
        strategy: str | None = None,
    ) -> Recommendations:
        """Top-k products per customer (new-to-them only if asked), optionally capped per category."""
        customers = [str(c) for c in customer_ids]
        chosen = strategy or (self.strategy_new if new_only else self.strategy_all)
        depth = k if max_per_category is None else 5 * k
        lists = _strategy_lists(self, chosen, customers, depth, new_only)
        result: Recommendations = {}
        for customer in customers:
            ranked = lists.get(customer, [])
            skip = self.candidates.owned.get(customer, set()) if new_only else set()
            # Pad with popular items: a cold or sparse customer still gets a full list.
            padding = [p for p in self.candidates.popular if p not in skip and p not in ranked]
            full = ranked + padding
            if max_per_category is not None:
                full = diversify(full, self.candidates.categories, k, max_per_category)
            result[customer] = full[:k]
        return result


def _strategy_lists(
    recommender: Recommender, strategy: str, customers: list[str], k: int, new_only: bool
) -> Recommendations:
    owned = recommender.candidates.owned
    if strategy == "blend":
        scored = recommender.scored
        if new_only:
            scored = scored.loc[scored["own_invoices"] == 0]
        scored = scored.loc[scored["customer_id"].isin(customers)]
        top = (
            scored.sort_values(["customer_id", "score"], ascending=[True, False])
            .groupby("customer_id")
            .head(k)
        )
        return {str(c): list(g) for c, g in top.groupby("customer_id")["product_id"]}
    if strategy == "again_and_new":
        return _again_and_new(recommender, customers, k, new_only)
    if strategy == "als":
        return recommender.candidates.als.recommend(customers, k, owned if new_only else None)
    if strategy == "p_top_freq" and not new_only:
        return p_top_freq(recommender.transactions, recommender.cutoff, customers, k)
    return {}


def _again_and_new(recommender: Recommender, customers: list[str], k: int, new_only: bool) -> Recommendations:
    """Own items by invoices (nudged by recent popularity), with NEW_SLOTS places for recent best-sellers."""
    if new_only:
        return _strategy_lists(recommender, "blend", customers, k, new_only=True)
    recent = recommender.candidates.recent_popular
    pairs = recommender.candidates.pairs
    mine = pairs.loc[(pairs["own_invoices"] > 0) & pairs["customer_id"].isin(customers)]
    score = mine["own_invoices"] + AGAIN_POPULARITY_WEIGHT * np.log1p(mine["invoices_30d"])
    ranked = (
        mine.assign(again=score)
        .sort_values(["customer_id", "again", "invoices_90d"], ascending=[True, False, False], kind="stable")
        .groupby("customer_id")
        .head(k)
    )
    own_lists = {str(c): list(g) for c, g in ranked.groupby("customer_id")["product_id"]}
    result: Recommendations = {}
    for customer in customers:
        own = own_lists.get(customer, [])
        owned = recommender.candidates.owned.get(customer, set())
        new = [p for p in recent if p not in owned][:k]
        own_part = own[: max(k - NEW_SLOTS, 0)]
        new_part = new[: k - len(own_part)]
        # Too few new items: the remaining own items come before any popular padding.
        rest = own[len(own_part) :][: k - len(own_part) - len(new_part)]
        picked = own_part + new_part + rest
        result[customer] = picked
    return result


def _score(pairs: pd.DataFrame, model: Any) -> pd.DataFrame:
    scored = pairs.loc[:, ["customer_id", "product_id", "own_invoices"]].copy()
    if model is None:
        # No learnable signal (one label class): own invoices then ALS, the P-TopFreq-like order.
        scored["score"] = pairs["own_invoices"] + pairs["als_score"].rank(pct=True)
    else:
        scored["score"] = model.predict_proba(pairs.loc[:, list(FEATURES)].to_numpy(dtype=float))[:, 1]
    return scored


def fit_recommender(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    horizon_days: float = 92.0,
    catalog: pd.DataFrame | None = None,
    validate: bool = True,
) -> Recommender:
    """Fit the blended ranker on the window ending at the cut-off and choose strategies by backtest.

    The blend is learned on candidates at `cutoff - horizon` labelled by the following window. With
    `validate`, the same recipe one window earlier is compared with P-TopFreq, ALS and popularity on the
    window ending at the cut-off (training period only), and the best by HR@10 is used.
    """
    frame = validate_transactions(transactions)
    cut = as_utc(cutoff)
    excluded = excluded_products(catalog)
    train_cut = cut - DAY * horizon_days
    frame = frame.loc[~frame["product_id"].isin(excluded)]
    validation: dict[str, dict[str, float]] = {}
    strategy_all, strategy_new = "blend", "blend"
    has_training = (frame["ordered_at"] < train_cut).any()
    model = None
    if has_training:
        train_candidates = build_candidates(frame, train_cut, excluded)
        labels = _labels(frame, train_cut, horizon_days)
        model = _fit_blend(train_candidates.pairs, labels)
        if validate and (frame["ordered_at"] < train_cut - DAY * horizon_days).any():
            validation = _backtest(frame, train_cut, horizon_days, excluded, train_candidates, labels)
            strategy_all = _best(validation, "all")
            strategy_new = _best(validation, "new")
    candidates = build_candidates(frame, cut, excluded)
    return Recommender(
        cut, strategy_all, strategy_new, validation, candidates, _score(candidates.pairs, model), frame
    )


def _best(validation: dict[str, dict[str, float]], kind: str) -> str:
    scores = {name.split(":")[1]: f["hr"] for name, f in validation.items() if name.startswith(f"{kind}:")}
    scores = {k: v for k, v in scores.items() if np.isfinite(v)}
    return max(scores, key=lambda k: scores[k]) if scores else "blend"


def _backtest(
    frame: pd.DataFrame,
    validation_cut: pd.Timestamp,
    horizon_days: float,
    excluded: frozenset[str],
    validation_candidates: Candidates,
    validation_labels: set[tuple[str, str]],
) -> dict[str, dict[str, float]]:
    """HR/Recall/NDCG@10 of each strategy on the window after `validation_cut` (all and new items)."""
    earlier = build_candidates(frame, validation_cut - DAY * horizon_days, excluded)
    model = _fit_blend(earlier.pairs, _labels(frame, validation_cut - DAY * horizon_days, horizon_days))
    probe = Recommender(
        validation_cut,
        "blend",
        "blend",
        {},
        validation_candidates,
        _score(validation_candidates.pairs, model),
        frame,
    )
    sold = set(before(frame, validation_cut)["product_id"])
    relevant: dict[str, set[str]] = {}
    for customer, product in validation_labels:
        if product in sold and customer in validation_candidates.owned:
            relevant.setdefault(customer, set()).add(product)
    relevant_new = {c: v - validation_candidates.owned.get(c, set()) for c, v in relevant.items()}
    relevant_new = {c: v for c, v in relevant_new.items() if v}
    report: dict[str, dict[str, float]] = {}
    for strategy in STRATEGIES:
        report[f"all:{strategy}"] = ranking_metrics(
            probe.recommend(relevant, 10, strategy=strategy), relevant
        )
        if strategy != "p_top_freq":
            recs = probe.recommend(relevant_new, 10, new_only=True, strategy=strategy)
            report[f"new:{strategy}"] = ranking_metrics(recs, relevant_new)
    return report
