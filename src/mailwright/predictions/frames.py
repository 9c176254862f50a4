"""The transaction frame every model reads, and the small aggregations they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

# One row per order line. `revenue` is the line's revenue in shop currency (quantity x unit price),
# `ordered_at` a tz-aware UTC timestamp; `category` may be empty when the catalog has none.
TRANSACTION_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "order_id",
    "ordered_at",
    "revenue",
    "product_id",
    "category",
    "quantity",
)

DAY = pd.Timedelta(days=1)


def in_days(delta: pd.Series, unit_days: float = 1.0) -> pd.Series:
    """A Series of timedeltas as float days (or as units of `unit_days` days)."""
    seconds: pd.Series = delta.dt.total_seconds()
    return seconds / (86400.0 * unit_days)


@dataclass(frozen=True)
class ModelStatus:
    """Which model produced a prediction, and why a fallback was used when it was."""

    model: str
    fallback: bool
    reason: str = ""


def validate_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and types of a transaction frame and return it normalized (a copy)."""
    missing = [c for c in TRANSACTION_COLUMNS if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions frame lacks columns {missing}")
    frame = transactions.loc[:, list(TRANSACTION_COLUMNS)].copy()
    ordered_at = pd.to_datetime(frame["ordered_at"])
    if getattr(ordered_at.dt, "tz", None) is None:
        raise ValueError("ordered_at must be tz-aware (UTC)")
    frame["ordered_at"] = ordered_at.dt.tz_convert("UTC")
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["order_id"] = frame["order_id"].astype(str)
    frame["product_id"] = frame["product_id"].astype(str)
    frame["category"] = frame["category"].fillna("").astype(str)
    frame["revenue"] = frame["revenue"].astype(float)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def as_utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    """Return a cut-off as a UTC timestamp; naive values are refused so no local clock leaks in."""
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ValueError("cut-off must be tz-aware")
    return stamp.tz_convert("UTC")


def before(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Rows strictly before the cut-off."""
    return transactions.loc[transactions["ordered_at"] < cutoff]


def window(transactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Rows with start <= ordered_at < end."""
    at = transactions["ordered_at"]
    return transactions.loc[(at >= start) & (at < end)]


def orders(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer_id, order_id, ordered_at (first line), revenue (sum), items (lines)."""
    grouped = transactions.groupby(["customer_id", "order_id"], sort=False)
    result = grouped.agg(
        ordered_at=("ordered_at", "min"), revenue=("revenue", "sum"), items=("product_id", "size")
    ).reset_index()
    return result.sort_values(["customer_id", "ordered_at"], kind="stable").reset_index(drop=True)


def median_interpurchase_days(transactions: pd.DataFrame) -> float:
    """Median gap in days between consecutive purchase days of the same customer (NaN with no repeats)."""
    days = transactions["ordered_at"].dt.floor("D")
    frame = pd.DataFrame({"customer_id": transactions["customer_id"], "day": days}).drop_duplicates()
    frame = frame.sort_values(["customer_id", "day"])
    gaps = frame.groupby("customer_id")["day"].diff().dropna()
    if gaps.empty:
        return float("nan")
    return float(gaps.dt.total_seconds().median() / 86400.0)


def horizon_from_history(transactions: pd.DataFrame, minimum: int = 30, maximum: int = 365) -> int:
    """A churn horizon in days derived from the shop's rhythm: about three median inter-purchase gaps."""
    median_gap = median_interpurchase_days(transactions)
    if not np.isfinite(median_gap):
        return 92
    return int(np.clip(round(3.0 * median_gap), minimum, maximum))
