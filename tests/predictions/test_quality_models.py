"""The pieces added for the prediction-quality goals: item features, rank-ordered revenue, again-and-new lists."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from tests.predictions.test_recommend import line as recommend_line

from mailwright.predictions import ranker
from mailwright.predictions.features import customer_features
from mailwright.predictions.value import _rank_ordered

CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")


def line(customer: str, order: str, day: int, product: str) -> dict[str, object]:
    """One order line whose category is its product (each item its own category here)."""
    return recommend_line(customer, order, day, product, category=product)


def test_item_features_tell_staples_from_one_offs() -> None:
    rows = []
    for c in range(6):
        # Everyone re-buys the tea, and it still sells; the vase was bought once each, long ago.
        rows += [line(f"t{c}", f"t{c}-{o}", 35 * o + c, "TEA") for o in range(3)]
        rows.append(line(f"v{c}", f"v{c}", c, "VASE"))
    features = customer_features(pd.DataFrame(rows), CUTOFF)
    assert features.loc["t0", "item_repurchase_rate"] > features.loc["v0", "item_repurchase_rate"] == 0.0
    assert features.loc["t0", "item_days_since_sold"] < features.loc["v0", "item_days_since_sold"]
    assert features.loc["t0", "months_active"] == 3.0 and features.loc["v0", "months_active"] == 1.0
    assert features.loc["t0", "min_gap_days"] == 35.0 and np.isnan(features.loc["v0", "min_gap_days"])


def test_rank_ordered_keeps_the_money_and_follows_the_order() -> None:
    money = np.array([5.0, 100.0, 0.0, 20.0])
    order = np.array([0.9, 0.1, 0.5, 0.7])
    result = _rank_ordered(order, money)
    # Same amounts in total and as a set, handed out by the order score: highest score gets the most money.
    assert sorted(result) == sorted(money)
    assert list(result) == [100.0, 0.0, 5.0, 20.0]


def test_again_and_new_keeps_one_slot_for_a_recent_best_seller(
    make_transactions: Callable[..., pd.DataFrame],
) -> None:
    transactions = make_transactions(n_customers=150, days=400, seed=3, products=40)
    cutoff = pd.Timestamp("2024-12-01", tz="UTC")
    model = ranker.fit_recommender(transactions, cutoff, validate=False)
    owned = model.candidates.owned
    heavy = [c for c, items in owned.items() if len(items) >= 12][:10]
    light = [c for c, items in owned.items() if len(items) <= 4][:10]
    assert heavy and light
    lists = model.recommend(heavy + light, 10, strategy="again_and_new")
    for customer in heavy:
        items = lists[customer]
        assert len(items) == 10 == len(set(items))
        assert sum(p in owned[customer] for p in items) == 10 - ranker.NEW_SLOTS
        new = [p for p in items if p not in owned[customer]]
        best_new = [p for p in model.candidates.recent_popular if p not in owned[customer]]
        assert new == best_new[: ranker.NEW_SLOTS]
    for customer in light:
        items = lists[customer]
        # Every own item first, then new best-sellers fill the list.
        assert set(items[: len(owned[customer])]) == owned[customer]
        assert len(items) == 10
