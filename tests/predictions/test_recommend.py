from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from mailwright.predictions import recommend

CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")


def line(customer: str, order: str, day: int, product: str, category: str = "k") -> dict[str, object]:
    return {
        "customer_id": customer,
        "order_id": order,
        "ordered_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day),
        "revenue": 10.0,
        "product_id": product,
        "category": category,
        "quantity": 1.0,
    }


@pytest.fixture
def shop() -> pd.DataFrame:
    rows = []
    for c in range(8):
        for o in range(3):
            order = f"{c}-{o}"
            # Everyone re-buys the mug and pays postage; the poster is bought once per customer only.
            rows += [line(f"c{c}", order, 10 * o + c, "MUG"), line(f"c{c}", order, 10 * o + c, "POST")]
            if o == 0:
                rows.append(line(f"c{c}", order, c, "POSTER"))
            if o == 1:
                rows += [line(f"c{c}", order, 10 + c, "TEA"), line(f"c{c}", order, 10 + c, "SPOON")]
    rows.append(line("c0", "late", 100, "BANK CHARGES"))
    return pd.DataFrame(rows)


def test_non_product_codes_are_never_recommended(shop: pd.DataFrame) -> None:
    assert "POST" not in recommend.recommend_popular(shop, CUTOFF, 10)
    again = recommend.recommend_buy_again(shop, CUTOFF, 10)
    assert all("POST" not in items and "BANK CHARGES" not in items for items in again.values())
    assert all(p != "POST" for p, _ in recommend.complementary_products(shop, "MUG", CUTOFF, min_support=1))


def test_catalog_exclusions_out_of_stock_and_no_image(shop: pd.DataFrame) -> None:
    catalog = pd.DataFrame(
        {
            "product_id": ["MUG", "TEA", "SPOON"],
            "in_stock": [False, True, True],
            "has_image": [True, True, False],
        }
    )
    popular = recommend.recommend_popular(shop, CUTOFF, 10, catalog=catalog)
    assert "MUG" not in popular and "SPOON" not in popular and "TEA" in popular


def test_buy_again_only_suggests_items_the_shop_sees_rebought(shop: pd.DataFrame) -> None:
    again = recommend.recommend_buy_again(shop, CUTOFF, 10)
    assert again["c3"][0] == "MUG"
    assert all("POSTER" not in items for items in again.values())


def test_complementary_items_ranked_by_lift(shop: pd.DataFrame) -> None:
    ranked = recommend.complementary_products(shop, "TEA", CUTOFF, min_support=2)
    assert ranked[0][0] == "SPOON"
    assert ranked[0][1] > dict(ranked).get("MUG", 0.0)


def test_blended_recommender_excludes_owned_items_for_new_to_you(
    make_transactions: Callable[..., pd.DataFrame],
) -> None:
    from mailwright.predictions.ranker import fit_recommender

    transactions = make_transactions(n_customers=120, days=400, seed=5, products=30)
    cutoff = pd.Timestamp("2024-12-01", tz="UTC")
    model = fit_recommender(transactions, cutoff, validate=False)
    customers = list(model.candidates.owned)[:20]
    new = model.recommend(customers, 5, new_only=True)
    sold = set(model.candidates.categories)
    for customer, items in new.items():
        assert len(items) == min(5, len(sold - model.candidates.owned[customer]))
        assert not set(items) & model.candidates.owned[customer]
    diverse = model.recommend(customers, 4, max_per_category=1)
    for items in diverse.values():
        categories = [model.candidates.categories[p] for p in items]
        assert len(set(categories)) == len(categories)
