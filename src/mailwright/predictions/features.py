"""Per-customer RFM and behaviour features at a cut-off, and the outcomes that follow it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mailwright.predictions.frames import DAY, before, in_days, orders, window
from mailwright.predictions.recommend import excluded_products, item_stats

WINDOWS_DAYS: tuple[int, ...] = (30, 90, 180, 365)

# The classic log-RFM trio, used by the logistic-regression baseline.
LOG_RFM_COLUMNS: tuple[str, ...] = ("log_recency", "log_frequency", "log_monetary")


def customer_features(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Features of every customer with an order before the cut-off (index customer_id, float columns)."""
    frame = before(transactions, cutoff)
    per_order = orders(frame)
    if per_order.empty:
        return pd.DataFrame(index=pd.Index([], name="customer_id", dtype=str))
    per_order["day"] = per_order["ordered_at"].dt.floor("D")
    grouped = per_order.groupby("customer_id", sort=True)
    first = grouped["ordered_at"].min()
    last = grouped["ordered_at"].max()
    result = pd.DataFrame(index=first.index)
    result["recency_days"] = in_days(cutoff - last)
    result["tenure_days"] = in_days(cutoff - first)
    result["n_orders"] = grouped.size().astype(float)
    result["n_days"] = grouped["day"].nunique().astype(float)
    result["revenue_total"] = grouped["revenue"].sum()
    result["aov"] = result["revenue_total"] / result["n_orders"]
    result["max_order_revenue"] = grouped["revenue"].max()
    result["last_order_revenue"] = grouped["revenue"].last()
    result["lines_per_order"] = grouped["items"].mean()
    age = in_days(cutoff - per_order["ordered_at"])
    for days in WINDOWS_DAYS:
        recent = per_order.loc[age <= days]
        by_customer = recent.groupby("customer_id")
        result[f"orders_{days}d"] = by_customer.size().reindex(result.index, fill_value=0).astype(float)
        result[f"revenue_{days}d"] = by_customer["revenue"].sum().reindex(result.index, fill_value=0.0)
    days_frame = per_order.drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
    gaps = days_frame.groupby("customer_id")["day"].diff().dt.total_seconds() / 86400.0
    gap_stats = gaps.groupby(days_frame["customer_id"]).agg(["mean", "std", "last", "min"])
    result["mean_gap_days"] = gap_stats["mean"].reindex(result.index)
    result["std_gap_days"] = gap_stats["std"].reindex(result.index)
    result["last_gap_days"] = gap_stats["last"].reindex(result.index)
    result["min_gap_days"] = gap_stats["min"].reindex(result.index)
    months = per_order["ordered_at"].dt.strftime("%Y-%m")
    result["months_active"] = months.groupby(per_order["customer_id"]).nunique().reindex(result.index)
    # Overdue-ness: how many typical gaps the customer has been silent; the sharpest single churn signal.
    result["recency_over_gap"] = result["recency_days"] / result["mean_gap_days"]
    result["rate_per_day"] = result["n_days"] / result["tenure_days"].clip(lower=1.0)
    lines = frame.groupby("customer_id", sort=True)
    result["n_products"] = lines["product_id"].nunique().reindex(result.index, fill_value=0).astype(float)
    result["n_categories"] = lines["category"].nunique().reindex(result.index, fill_value=0).astype(float)
    result["quantity_total"] = lines["quantity"].sum().reindex(result.index, fill_value=0.0)
    result["log_recency"] = np.log1p(result["recency_days"])
    result["log_frequency"] = np.log1p(result["n_days"])
    result["log_monetary"] = np.log1p(result["revenue_total"].clip(lower=0.0))
    result = result.join(_item_features(transactions, cutoff, frame))
    result.index.name = "customer_id"
    return result.astype(float)


def _item_features(transactions: pd.DataFrame, cutoff: pd.Timestamp, frame: pd.DataFrame) -> pd.DataFrame:
    """What the customer's items say: how often other buyers re-buy them, how recently and widely they sell.

    A customer whose basket is full of items that everyone re-buys, and that still sell, comes back more
    often than one who bought a discontinued one-off; on the development windows these were the only
    behavioural features that added to RFM.
    """
    stats = item_stats(transactions, cutoff, excluded_products()).table
    lines = frame.loc[frame["product_id"].isin(stats.index)]
    columns = {
        "item_repurchase_rate": "repurchase_rate",
        "item_days_since_sold": "last_sold_days",
        "item_invoices_30d": "invoices_30d",
    }
    result = pd.DataFrame(
        {
            name: lines["product_id"].map(stats[column]).groupby(lines["customer_id"]).mean()
            for name, column in columns.items()
        }
    )
    result["item_invoices_30d"] = np.log1p(result["item_invoices_30d"])
    return result


def outcomes(transactions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """What each customer did in [cut-off, cut-off + horizon): orders, revenue, bought (0/1)."""
    frame = window(transactions, cutoff, cutoff + DAY * horizon_days)
    grouped = frame.groupby("customer_id")
    result = pd.DataFrame(
        {"orders": grouped["order_id"].nunique().astype(float), "revenue": grouped["revenue"].sum()}
    )
    result["bought"] = (result["orders"] > 0).astype(float)
    result.index.name = "customer_id"
    return result


def labelled(transactions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """Features at the cut-off joined with the outcomes of the following horizon (zeros when silent)."""
    features = customer_features(transactions, cutoff)
    result = outcomes(transactions, cutoff, horizon_days).reindex(features.index, fill_value=0.0)
    return features.join(result.add_prefix("y_"))


def stacked_training_frame(
    transactions: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], horizon_days: float
) -> pd.DataFrame:
    """Labelled frames of several earlier cut-offs, stacked, with a `cutoff` column and customer_id."""
    parts = []
    for cut in cutoffs:
        part = labelled(transactions, cut, horizon_days).reset_index()
        part["cutoff"] = cut
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model input columns of a labelled frame (everything but ids, cut-off and outcomes)."""
    return [c for c in frame.columns if c not in ("customer_id", "cutoff") and not c.startswith("y_")]


def training_cutoffs(
    first_order_at: pd.Timestamp, latest: pd.Timestamp, horizon_days: float, count: int, step_days: float
) -> list[pd.Timestamp]:
    """Earlier cut-offs whose outcome window ends by `latest`, newest first, each with history before it."""
    result = []
    for k in range(count):
        cut = latest - DAY * (horizon_days + k * step_days)
        if cut - first_order_at >= DAY * max(30.0, horizon_days / 2):
            result.append(cut)
    return result
