from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mailwright.predictions import churn, clv, value


def test_tiny_shop_gets_named_fallbacks_with_reasons(make_transactions: Callable[..., pd.DataFrame]) -> None:
    transactions = make_transactions(n_customers=15, days=60, seed=1)
    cutoff = pd.Timestamp("2024-03-01", tz="UTC")
    churn_result = churn.predict_churn(transactions, cutoff)
    assert churn_result.status == churn.ModelStatus("recency_only", True, churn_result.status.reason)
    assert "history" in churn_result.status.reason or "customers" in churn_result.status.reason
    probabilities = churn_result.predictions["churn_probability"]
    assert probabilities.between(0, 1).all()
    # The fallback must rank by recency: the longest-silent customer gets the highest score.
    assert probabilities.idxmax() == churn_result.predictions["recency_days"].idxmax()

    value_result = value.predict_value(transactions, cutoff)
    assert value_result.revenue_status.fallback and value_result.revenue_status.model == "last_90_days"
    assert value_result.revenue_status.reason

    clv_result = clv.predict_clv(transactions, cutoff)
    assert clv_result.status.fallback and "customers" in clv_result.status.reason


def test_enough_data_uses_the_supervised_model(make_transactions: Callable[..., pd.DataFrame]) -> None:
    transactions = make_transactions(n_customers=500, days=400, seed=2)
    cutoff = pd.Timestamp("2025-01-20", tz="UTC")
    result = churn.predict_churn(transactions, cutoff, n_training_cutoffs=2)
    assert not result.status.fallback
    assert result.status.model in churn.CHURN_CANDIDATES
    assert result.validation and "recency_only" in result.validation
    assert result.predictions["churn_probability"].between(0, 1).all()
    assert result.training_cutoff == cutoff - pd.Timedelta(days=92)


def test_horizon_derived_from_the_shops_rhythm(make_transactions: Callable[..., pd.DataFrame]) -> None:
    transactions = make_transactions(n_customers=60, days=300, seed=3)
    cutoff = pd.Timestamp("2024-11-01", tz="UTC")
    result = churn.predict_churn(transactions, cutoff, horizon_days=None)
    median_gap = churn.horizon_from_history(transactions.loc[transactions["ordered_at"] < cutoff])
    assert result.horizon_days == median_gap
    assert 30 <= result.horizon_days <= 365


def test_cutoff_must_be_timezone_aware(make_transactions: Callable[..., pd.DataFrame]) -> None:
    transactions = make_transactions(n_customers=5, days=30)
    try:
        churn.predict_churn(transactions, pd.Timestamp("2024-02-01"))
    except ValueError as error:
        assert "tz-aware" in str(error)
    else:
        raise AssertionError("a naive cut-off must be refused")


def test_nothing_after_the_cutoff_leaks_into_features(make_transactions: Callable[..., pd.DataFrame]) -> None:
    transactions = make_transactions(n_customers=400, days=300, seed=4)
    cutoff = pd.Timestamp("2024-10-01", tz="UTC")
    base = churn.predict_churn(transactions, cutoff).predictions
    future = transactions.copy()
    future["ordered_at"] = cutoff + pd.Timedelta(days=1)
    changed = churn.predict_churn(pd.concat([transactions, future.assign(order_id="x")]), cutoff).predictions
    np.testing.assert_allclose(base["churn_probability"], changed["churn_probability"])
