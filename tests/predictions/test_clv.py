from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mailwright.predictions import clv
from mailwright.predictions.datasets import load_cdnow

CALIBRATION_END = pd.Timestamp("1997-10-01", tz="UTC")


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_sample: Path) -> pd.DataFrame:
    return clv.summary_data(load_cdnow(cdnow_sample), CALIBRATION_END, 7.0)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_summary: pd.DataFrame) -> clv.BgNbdFit:
    return clv.fit_bgnbd(cdnow_summary, 7.0)


@pytest.mark.slow
def test_summary_matches_the_published_cdnow_summary(cdnow_summary: pd.DataFrame) -> None:
    assert len(cdnow_summary) == 2357
    first = cdnow_summary.loc["00004"]
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(30.43, abs=0.01)
    assert first["T"] == pytest.approx(38.86, abs=0.01)
    assert first["monetary_value"] == pytest.approx(22.35, abs=0.01)


@pytest.mark.slow
def test_bgnbd_reproduces_published_cdnow_parameters(cdnow_fit: clv.BgNbdFit) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert getattr(cdnow_fit, name) == pytest.approx(value, rel=0.005), name
    assert cdnow_fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert not cdnow_fit.degenerate


@pytest.mark.slow
def test_gamma_gamma_reproduces_published_cdnow_parameters(cdnow_summary: pd.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_summary)
    assert fit.p == pytest.approx(6.25, rel=0.005)
    assert fit.q == pytest.approx(3.74, rel=0.005)
    assert fit.v == pytest.approx(15.44, rel=0.005)
    assert fit.n_customers == int((cdnow_summary["frequency"] > 0).sum())


@pytest.mark.slow
def test_predictions_agree_with_lifetimes_reference(
    cdnow_summary: pd.DataFrame, cdnow_fit: clv.BgNbdFit
) -> None:
    from lifetimes import BetaGeoFitter

    reference = BetaGeoFitter()
    reference.params_ = pd.Series(
        {"r": cdnow_fit.r, "alpha": cdnow_fit.alpha, "a": cdnow_fit.a, "b": cdnow_fit.b}
    )
    x, tx, big_t = (cdnow_summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    expected = reference.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, big_t)
    alive = reference.conditional_probability_alive(x, tx, big_t)
    np.testing.assert_allclose(clv.expected_purchases(cdnow_fit, 39.0, x, tx, big_t), expected, rtol=1e-6)
    np.testing.assert_allclose(clv.probability_alive(cdnow_fit, x, tx, big_t), alive, rtol=1e-6)


@pytest.mark.slow
def test_holdout_correlation_matches_publication(
    cdnow_summary: pd.DataFrame, cdnow_fit: clv.BgNbdFit, cdnow_sample: Path
) -> None:
    transactions = load_cdnow(cdnow_sample)
    holdout = transactions.loc[transactions["ordered_at"] >= CALIBRATION_END]
    actual = (
        holdout.assign(day=holdout["ordered_at"].dt.floor("D"))
        .groupby("customer_id")["day"]
        .nunique()
        .reindex(cdnow_summary.index, fill_value=0)
    )
    x, tx, big_t = (cdnow_summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    predicted = clv.expected_purchases(cdnow_fit, 39.0, x, tx, big_t)
    assert np.corrcoef(predicted, actual)[0, 1] == pytest.approx(0.626, abs=0.005)


@pytest.mark.slow
def test_degenerate_fit_detected_on_online_retail(retail_transactions: pd.DataFrame) -> None:
    cutoff = pd.Timestamp("2011-09-09", tz="UTC")
    result = clv.predict_clv(retail_transactions, cutoff)
    assert result.bgnbd is not None and result.bgnbd.degenerate
    assert "P(alive)=1" in result.bgnbd.reason
    assert result.status.fallback and result.status.model == "last_90_days_revenue"
    assert "degenerate" in result.status.reason


def test_clv_is_positive_and_grows_with_horizon() -> None:
    fit = clv.BgNbdFit(0.243, 4.414, 0.793, 2.426, 0.0, 1, 7.0, False)
    gg = clv.GammaGammaFit(6.25, 3.74, 15.44, 0.0, 1, False)
    summary = pd.DataFrame(
        {
            "frequency": [0.0, 2.0, 10.0],
            "recency": [0.0, 20.0, 35.0],
            "T": [38.0] * 3,
            "monetary_value": [0.0, 25.0, 40.0],
        }
    )
    short = clv.customer_lifetime_value(fit, gg, summary, 90.0)
    long = clv.customer_lifetime_value(fit, gg, summary, 365.0)
    assert np.all(short > 0) and np.all(long > short)
    discounted = clv.customer_lifetime_value(fit, gg, summary, 365.0, annual_discount_rate=0.2)
    assert np.all(discounted < long)
