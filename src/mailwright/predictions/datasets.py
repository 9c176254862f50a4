"""Loaders turning the public research data sets into the transaction frame the models read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mailwright.predictions.frames import TRANSACTION_COLUMNS

# Stock codes of the Online Retail data that are fees, postage or manual adjustments, not products.
NON_PRODUCT_CODES: frozenset[str] = frozenset(
    {"POST", "DOT", "M", "BANK CHARGES", "C2", "PADS", "AMAZONFEE", "D", "CRUK", "S", "B"}
)


def shared_data_dir(repo_root: Path) -> Path:
    """The read-only research data folder, `../shared/data` relative to the repository root."""
    return Path(repo_root).resolve().parent / "shared" / "data"


def read_online_retail_raw(path: Path) -> pd.DataFrame:
    """Read an Online Retail style file (parquet or csv) as is."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str})


def online_retail_transactions(raw: pd.DataFrame) -> pd.DataFrame:
    """Map Online Retail rows to transactions: drop returns/adjustments and guests, revenue = qty x price."""
    frame = raw
    if "is_return_or_adjustment" in frame.columns:
        frame = frame.loc[~frame["is_return_or_adjustment"].astype(bool)]
    frame = frame.loc[frame["CustomerID"].notna() & (frame["Quantity"] > 0)]
    invoice_date = pd.to_datetime(frame["InvoiceDate"])
    # The shop's clock is UK local time without zone; treating it as UTC keeps day boundaries as published.
    ordered_at = (
        invoice_date.dt.tz_localize("UTC")
        if invoice_date.dt.tz is None
        else invoice_date.dt.tz_convert("UTC")
    )
    customer = frame["CustomerID"].astype(float).astype(np.int64).astype(str)
    product = frame["StockCode"].astype(str).str.strip().str.upper()
    result = pd.DataFrame(
        {
            "customer_id": customer.to_numpy(),
            "order_id": frame["InvoiceNo"].astype(str).to_numpy(),
            "ordered_at": ordered_at.to_numpy(),
            "revenue": (frame["Quantity"].astype(float) * frame["UnitPrice"].astype(float)).to_numpy(),
            "product_id": product.to_numpy(),
            # No categories in this data set: the stock code's numeric stem groups colour/size variants.
            "category": product.str.extract(r"^(\d+)", expand=False).fillna(product).to_numpy(),
            "quantity": frame["Quantity"].astype(float).to_numpy(),
        }
    )
    result["ordered_at"] = pd.to_datetime(result["ordered_at"], utc=True)
    return result.loc[:, list(TRANSACTION_COLUMNS)].reset_index(drop=True)


def load_online_retail(path: Path) -> pd.DataFrame:
    """Read an Online Retail file (parquet or csv) into the transaction frame."""
    return online_retail_transactions(read_online_retail_raw(path))


def load_cdnow(path: Path) -> pd.DataFrame:
    """Read CDNOW_sample.txt or CDNOW_master.txt into the transaction frame (one line per purchase)."""
    path = Path(path)
    with path.open() as handle:
        first = handle.readline().split()
    has_header = not first[0].isdigit()
    raw = pd.read_csv(path, sep=r"\s+", header=None, skiprows=1 if has_header else 0, dtype=str)
    if raw.shape[1] == 5:
        # The sample carries its own second id column; the customer id is the first.
        raw = raw.iloc[:, [0, 2, 3, 4]]
    raw.columns = pd.Index(["customer_id", "date", "quantity", "amount"])
    ordered_at = pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC")
    result = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "order_id": raw["customer_id"].astype(str) + "-" + raw.index.astype(str),
            "ordered_at": ordered_at,
            "revenue": raw["amount"].astype(float),
            "product_id": "cd",
            "category": "music",
            "quantity": raw["quantity"].astype(float),
        }
    )
    return result.loc[:, list(TRANSACTION_COLUMNS)]
