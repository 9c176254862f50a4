"""Product recommendations: buy-again, new-to-you (ALS, item-kNN), complementary, popular and trending."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from mailwright.predictions.datasets import NON_PRODUCT_CODES
from mailwright.predictions.frames import as_utc, before, in_days

FloatArray = npt.NDArray[np.float64]
Recommendations = dict[str, list[str]]


def excluded_products(
    catalog: pd.DataFrame | None = None, non_products: Iterable[str] = NON_PRODUCT_CODES
) -> frozenset[str]:
    """Products never to recommend: fees and postage codes, and catalog items out of stock or without image."""
    excluded = set(non_products)
    if catalog is not None and len(catalog):
        unusable = pd.Series(False, index=catalog.index)
        if "in_stock" in catalog.columns:
            unusable |= ~catalog["in_stock"].fillna(False).astype(bool)
        if "has_image" in catalog.columns:
            unusable |= ~catalog["has_image"].fillna(False).astype(bool)
        excluded |= set(catalog.loc[unusable, "product_id"].astype(str))
    return frozenset(excluded)


def _usable(transactions: pd.DataFrame, cutoff: pd.Timestamp, excluded: frozenset[str]) -> pd.DataFrame:
    frame = before(transactions, cutoff)
    return frame.loc[~frame["product_id"].isin(excluded)]


@dataclass(frozen=True)
class ItemStats:
    """Per-product popularity and re-purchase figures at a cut-off (index product_id)."""

    table: pd.DataFrame = field(repr=False)


def item_stats(transactions: pd.DataFrame, cutoff: pd.Timestamp, excluded: frozenset[str]) -> ItemStats:
    """Invoices overall, in the last 14/30/90 days, buyers, and the share of buyers who bought it again."""
    frame = _usable(transactions, cutoff, excluded)
    pairs = frame.drop_duplicates(["customer_id", "order_id", "product_id"])
    age = in_days(cutoff - pairs["ordered_at"])
    grouped = pairs.groupby("product_id")
    table = pd.DataFrame({"invoices": grouped.size().astype(float)})
    for days in (14, 30, 90):
        table[f"invoices_{days}d"] = (
            pairs.loc[age <= days].groupby("product_id").size().reindex(table.index, fill_value=0)
        )
    per_buyer = pairs.groupby(["product_id", "customer_id"]).size()
    buyers = per_buyer.groupby(level=0).size()
    repeaters = (per_buyer > 1).groupby(level=0).sum()
    table["buyers"] = buyers.reindex(table.index).astype(float)
    # Shrunk toward zero for rarely bought items so one lucky repeat does not make an item "re-bought".
    table["repurchase_rate"] = repeaters.reindex(table.index).astype(float) / (table["buyers"] + 5.0)
    table["last_sold_days"] = in_days(cutoff - grouped["ordered_at"].max()).reindex(table.index)
    table["category"] = grouped["category"].first()
    return ItemStats(table.astype({c: float for c in table.columns if c != "category"}))


def own_items(transactions: pd.DataFrame, cutoff: pd.Timestamp, excluded: frozenset[str]) -> pd.DataFrame:
    """One row per (customer, product) bought before the cut-off: invoices, quantity, days since last."""
    frame = _usable(transactions, cutoff, excluded)
    grouped = frame.groupby(["customer_id", "product_id"], sort=False)
    result = grouped.agg(
        own_invoices=("order_id", "nunique"), own_quantity=("quantity", "sum"), last_at=("ordered_at", "max")
    ).reset_index()
    result["own_days_since"] = in_days(cutoff - result.pop("last_at"))
    return result


def _top(scores: pd.DataFrame, by: Sequence[str], ascending: Sequence[bool], k: int) -> Recommendations:
    ordered = scores.sort_values(["customer_id", *by], ascending=[True, *ascending], kind="stable")
    top = ordered.groupby("customer_id", sort=False).head(k)
    return {str(c): list(g) for c, g in top.groupby("customer_id", sort=False)["product_id"]}


def recommend_buy_again(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    k: int = 10,
    catalog: pd.DataFrame | None = None,
    min_repurchase_rate: float = 0.0,
) -> Recommendations:
    """Each customer's own items by number of invoices, most recent first on ties, if re-bought in the shop."""
    cut = as_utc(cutoff)
    excluded = excluded_products(catalog)
    stats = item_stats(transactions, cut, excluded).table
    owned = own_items(transactions, cut, excluded)
    rate = owned["product_id"].map(stats["repurchase_rate"]).fillna(0.0)
    owned = owned.loc[rate > min_repurchase_rate]
    return _top(owned, ["own_invoices", "own_days_since"], [False, True], k)


def recommend_popular(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    k: int = 10,
    days: float | None = 90.0,
    catalog: pd.DataFrame | None = None,
) -> list[str]:
    """The products on most invoices in the last `days` before the cut-off (all history when None)."""
    cut = as_utc(cutoff)
    stats = item_stats(transactions, cut, excluded_products(catalog)).table
    column = "invoices" if days is None else _window_column(days)
    ranked = stats.sort_values([column, "invoices"], ascending=False, kind="stable")
    return [str(p) for p in ranked.index[:k]]


def _window_column(days: float) -> str:
    for window in (14, 30, 90):
        if days <= window:
            return f"invoices_{window}d"
    return "invoices"


def recommend_trending(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    k: int = 10,
    catalog: pd.DataFrame | None = None,
) -> list[str]:
    """Products selling faster in the last 14 days than their 90-day rate predicts (a Poisson z-score)."""
    cut = as_utc(cutoff)
    stats = item_stats(transactions, cut, excluded_products(catalog)).table
    expected = stats["invoices_90d"] * 14.0 / 90.0
    score = (stats["invoices_14d"] - expected) / np.sqrt(expected + 1.0)
    ranked = score.loc[stats["invoices_14d"] >= 2].sort_values(ascending=False, kind="stable")
    return [str(p) for p in ranked.index[:k]]


def complementary_products(
    transactions: pd.DataFrame,
    product_id: str,
    cutoff: datetime | pd.Timestamp,
    k: int = 10,
    min_support: int = 3,
    catalog: pd.DataFrame | None = None,
) -> list[tuple[str, float]]:
    """Products bought in the same orders as `product_id`, ranked by lift (with a minimum co-purchase count)."""
    cut = as_utc(cutoff)
    frame = _usable(transactions, cut, excluded_products(catalog)).drop_duplicates(["order_id", "product_id"])
    n_orders = frame["order_id"].nunique()
    with_product = frame.loc[frame["product_id"] == product_id, "order_id"].unique()
    if len(with_product) == 0:
        return []
    basket = frame.loc[frame["order_id"].isin(with_product) & (frame["product_id"] != product_id)]
    co_count = basket.groupby("product_id").size()
    co_count = co_count.loc[co_count >= min_support]
    if co_count.empty:
        return []
    item_orders = frame.loc[frame["product_id"].isin(co_count.index)].groupby("product_id").size()
    lift = co_count * n_orders / (len(with_product) * item_orders.reindex(co_count.index))
    ranked = pd.DataFrame({"lift": lift, "co": co_count}).sort_values(["lift", "co"], ascending=False)
    return [(str(p), float(v)) for p, v in ranked["lift"].iloc[:k].items()]


def diversify(
    ranked: Sequence[str],
    category_of: Mapping[str, str] | Callable[[str], str],
    k: int,
    max_per_category: int,
) -> list[str]:
    """Keep rank order but at most `max_per_category` items of one category, filling up from the rest."""
    lookup: Callable[[str], str] = category_of if callable(category_of) else (lambda p: category_of.get(p, p))
    chosen: list[str] = []
    counts: dict[str, int] = {}
    skipped: list[str] = []
    for item in ranked:
        category = lookup(item)
        if counts.get(category, 0) < max_per_category:
            chosen.append(item)
            counts[category] = counts.get(category, 0) + 1
        else:
            skipped.append(item)
        if len(chosen) == k:
            return chosen
    # Too few categories to honour the cap: fill with the best skipped items rather than return fewer.
    return (chosen + skipped)[:k]


@dataclass(frozen=True)
class InteractionMatrix:
    """Customers x products matrix of invoice counts before a cut-off."""

    customers: pd.Index
    products: pd.Index
    counts: sparse.csr_matrix = field(repr=False)


def interaction_matrix(
    transactions: pd.DataFrame, cutoff: pd.Timestamp, excluded: frozenset[str]
) -> InteractionMatrix:
    """Build the invoice-count matrix from usable purchases before the cut-off."""
    owned = own_items(transactions, cutoff, excluded)
    customers = pd.Index(sorted(owned["customer_id"].unique()))
    products = pd.Index(sorted(owned["product_id"].unique()))
    rows = customers.get_indexer(owned["customer_id"])
    cols = products.get_indexer(owned["product_id"])
    counts = sparse.csr_matrix(
        (owned["own_invoices"].to_numpy(dtype=np.float32), (rows, cols)),
        shape=(len(customers), len(products)),
    )
    return InteractionMatrix(customers, products, counts)


@dataclass(frozen=True)
class FactorModel:
    """Dense customer x product affinity scores from a collaborative model (ALS or item-kNN)."""

    name: str
    customers: pd.Index
    products: pd.Index
    scores: npt.NDArray[np.float32] = field(repr=False)

    def recommend(
        self, customer_ids: Iterable[str], k: int, exclude: Mapping[str, set[str]] | None = None
    ) -> Recommendations:
        """Top-k products per known customer, skipping each customer's `exclude` set."""
        result: Recommendations = {}
        for customer in customer_ids:
            row = self.customers.get_indexer(pd.Index([customer]))[0]
            if row < 0:
                continue
            order = np.argsort(-self.scores[row], kind="stable")
            skip = exclude.get(customer, set()) if exclude else set()
            picked: list[str] = []
            for j in order:
                item = str(self.products[j])
                if item not in skip:
                    picked.append(item)
                    if len(picked) == k:
                        break
            result[customer] = picked
        return result


def fit_als(
    matrix: InteractionMatrix,
    factors: int = 64,
    regularization: float = 0.05,
    iterations: int = 15,
    confidence: float = 10.0,
    random_state: int = 0,
) -> FactorModel:
    """Implicit-feedback ALS (Hu, Koren & Volinsky) on log invoice counts, one BLAS thread."""
    from implicit.cpu.als import AlternatingLeastSquares

    weighted = matrix.counts.copy()
    weighted.data = (confidence * np.log1p(weighted.data)).astype(np.float32)
    # OpenBLAS threads fight implicit's own threads on a small machine; one BLAS thread is fastest.
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            iterations=iterations,
            num_threads=1,
            random_state=random_state,
        )
        model.fit(weighted, show_progress=False)
        scores = np.asarray(model.user_factors @ model.item_factors.T, dtype=np.float32)
    return FactorModel("als", matrix.customers, matrix.products, scores)


def fit_item_knn(matrix: InteractionMatrix, shrink: float = 10.0) -> FactorModel:
    """Item-based kNN: cosine similarity of products over buyers, scored against each customer's items."""
    binary = (matrix.counts > 0).astype(np.float32).tocsc()
    co = (binary.T @ binary).toarray()
    norms = np.sqrt(np.diag(co))
    # Shrinkage keeps rarely bought products from looking perfectly similar to everything they touched.
    similarity = co / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(similarity, 0.0)
    weights = matrix.counts.copy()
    weights.data = np.log1p(weights.data)
    scores = np.asarray(weights @ similarity, dtype=np.float32)
    return FactorModel("item_knn", matrix.customers, matrix.products, scores)


def p_top_freq(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    customer_ids: Iterable[str],
    k: int = 10,
    catalog: pd.DataFrame | None = None,
) -> Recommendations:
    """Baseline: own items by number of invoices, padded and tie-broken by the last 90 days' popularity."""
    cut = as_utc(cutoff)
    excluded = excluded_products(catalog)
    stats = item_stats(transactions, cut, excluded).table
    owned = own_items(transactions, cut, excluded)
    owned["popularity"] = owned["product_id"].map(stats["invoices_90d"]).fillna(0.0)
    mine = _top(owned, ["own_invoices", "popularity"], [False, False], k)
    popular = list(stats.sort_values(["invoices_90d", "invoices"], ascending=False).index[: 3 * k])
    result: Recommendations = {}
    for customer in customer_ids:
        picked = list(mine.get(customer, []))
        for item in popular:
            if len(picked) >= k:
                break
            if item not in picked:
                picked.append(str(item))
        result[customer] = picked
    return result
