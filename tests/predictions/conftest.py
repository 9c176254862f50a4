from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mailwright.predictions.datasets import load_online_retail, shared_data_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = shared_data_dir(REPO_ROOT)
RETAIL = DATA_DIR / "online_retail" / "online_retail_2010_2011.parquet"
CDNOW_SAMPLE = DATA_DIR / "cdnow" / "CDNOW_sample.txt"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def retail_transactions() -> pd.DataFrame:
    return load_online_retail(require(RETAIL))


@pytest.fixture(scope="session")
def retail_path() -> Path:
    return require(RETAIL)


@pytest.fixture(scope="session")
def cdnow_sample() -> Path:
    return require(CDNOW_SAMPLE)


@pytest.fixture(scope="session")
def make_transactions() -> Callable[..., pd.DataFrame]:
    return synthetic_transactions


def synthetic_transactions(
    n_customers: int, days: int, seed: int = 0, start: str = "2024-01-01", products: int = 20
) -> pd.DataFrame:
    """Customers with Poisson purchase rates who may drop out, buying a few products per order."""
    rng = np.random.default_rng(seed)
    rows = []
    origin = pd.Timestamp(start, tz="UTC")
    for c in range(n_customers):
        rate = rng.gamma(1.0, 1 / 30)
        first = rng.integers(0, max(days // 2, 1))
        life = rng.exponential(days)
        t = float(first)
        order = 0
        while t < min(days, first + life):
            for p in rng.choice(products, size=rng.integers(1, 4), replace=False):
                rows.append(
                    {
                        "customer_id": f"c{c}",
                        "order_id": f"c{c}-{order}",
                        "ordered_at": origin + pd.Timedelta(days=t, hours=int(rng.integers(8, 20))),
                        "revenue": float(rng.gamma(2.0, 10.0)),
                        "product_id": f"p{p}",
                        "category": f"k{p % 4}",
                        "quantity": 1.0,
                    }
                )
            order += 1
            t += rng.exponential(1 / rate) + 1
    return pd.DataFrame(rows)
