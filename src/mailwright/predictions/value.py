"""Revenue and order-count predictions over a horizon, with the model chosen by a training-period backtest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor

from mailwright.predictions.churn import fit_classifier
from mailwright.predictions.clv import (
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    summary_data,
)
from mailwright.predictions.features import (
    customer_features,
    feature_columns,
    labelled,
    stacked_training_frame,
    training_cutoffs,
)
from mailwright.predictions.frames import DAY, ModelStatus, as_utc, validate_transactions
from mailwright.predictions.metrics import spearman, top_decile_share

FloatArray = npt.NDArray[np.float64]
REVENUE_CANDIDATES: tuple[str, ...] = ("hurdle", "rank_hurdle", "poisson_gb", "bgnbd_gg", "last_90_days")
ORDER_CANDIDATES: tuple[str, ...] = ("poisson_gb", "bgnbd", "last_90_days")
# Beyond this wait the customer is not expected back, and no next-order date is given.
MAX_WAIT_DAYS = 730.0


@dataclass(frozen=True)
class ValueThresholds:
    """Minimum data for the supervised value models; below it revenue falls back to the last 90 days'."""

    min_customers: int = 200
    min_buyers: int = 50
    min_history_horizons: float = 2.0


@dataclass(frozen=True)
class ValueResult:
    """Expected revenue, orders and next order date per customer, the models chosen and their backtest."""

    predictions: pd.DataFrame = field(repr=False)
    revenue_status: ModelStatus
    orders_status: ModelStatus
    horizon_days: float
    validation: dict[str, dict[str, float]]


@dataclass(frozen=True)
class _Predictions:
    revenue: dict[str, FloatArray]
    orders: dict[str, FloatArray]
    p_buy: FloatArray
    degenerate: str


def _regressor(loss: str, slow: bool = False) -> HistGradientBoostingRegressor:
    # Small, slow trees for the skewed money targets: on the development windows they ranked customers
    # better than the default trees, which chase the few very large spenders.
    shape = (
        {"learning_rate": 0.02, "max_iter": 300, "max_leaf_nodes": 7, "min_samples_leaf": 80}
        if slow
        else {"learning_rate": 0.04, "max_iter": 250, "max_leaf_nodes": 15, "min_samples_leaf": 40}
    )
    return HistGradientBoostingRegressor(loss=loss, l2_regularization=1.0, random_state=0, **shape)


def _rank_ordered(order_score: FloatArray, money: FloatArray) -> FloatArray:
    """The values of `money`, re-assigned so that their order follows `order_score` (ties broken by money)."""
    order = np.lexsort((-money, -order_score))
    result = np.empty_like(money)
    result[order] = np.sort(money)[::-1]
    return result


def bgnbd_gg_forecast(
    transactions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: float, index: pd.Index
) -> tuple[FloatArray, FloatArray, str]:
    """BG/NBD x Gamma-Gamma expected revenue and purchases over the horizon, and a degeneracy reason."""
    summary = summary_data(transactions, cutoff, 7.0).reindex(index)
    if summary["frequency"].isna().any() or int((summary["frequency"] > 0).sum()) < 3:
        zeros = np.zeros(len(index))
        return zeros, zeros, "too few repeat customers for BG/NBD"
    bg = fit_bgnbd(summary, 7.0)
    gg = fit_gamma_gamma(summary)
    x, tx, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    purchases = expected_purchases(bg, horizon_days / 7.0, x, tx, big_t)
    revenue = customer_lifetime_value(bg, gg, summary, horizon_days)
    reasons = [r for r in (bg.reason, gg.reason) if r]
    return np.nan_to_num(revenue), np.nan_to_num(purchases), "; ".join(reasons)


def _supervised(
    frame: pd.DataFrame, train: pd.DataFrame, target: pd.DataFrame, cutoff: pd.Timestamp, horizon: float
) -> _Predictions:
    """Fit every candidate on the stacked training frame and predict for the target cut-off's customers."""
    columns = feature_columns(train)
    x_train = train.loc[:, columns].to_numpy(dtype=float)
    x_target = target.loc[:, columns].to_numpy(dtype=float)
    classifier = fit_classifier(train, "logistic_all", calibrate=False)
    p_buy = classifier.probability_of_purchase(target)
    buyers = train["y_revenue"].to_numpy() > 0
    log_revenue = np.log1p(train["y_revenue"].clip(lower=0.0).to_numpy(dtype=float))
    conditional = _regressor("squared_error", slow=True).fit(x_train[buyers], log_revenue[buyers])
    residuals = log_revenue[buyers] - conditional.predict(x_train[buyers])
    # Duan's smearing: the mean of exp(residual) turns a mean of logs back into a mean of money.
    smear = float(np.mean(np.exp(residuals)))
    spend_if_buy = np.expm1(conditional.predict(x_target)) * smear
    # Rank-targeted model: learns each customer's percentile of revenue within its window, the quantity the
    # Spearman and top-decile figures judge; non-buyers share the lowest percentile.
    percentile = train.groupby("cutoff")["y_revenue"].rank(pct=True).to_numpy(dtype=float)
    rank_model = _regressor("squared_error", slow=True).fit(x_train, percentile)
    hurdle = p_buy * np.maximum(spend_if_buy, 0.0)
    poisson_revenue = _regressor("poisson").fit(
        x_train, train["y_revenue"].clip(lower=0.0).to_numpy(dtype=float)
    )
    poisson_orders = _regressor("poisson").fit(x_train, train["y_orders"].to_numpy(dtype=float))
    bg_revenue, bg_orders, degenerate = bgnbd_gg_forecast(frame, cutoff, horizon, target.index)
    scale = horizon / 90.0
    return _Predictions(
        revenue={
            "hurdle": hurdle,
            # Order from the mean of the hurdle's and the rank model's ranks, money from the hurdle model.
            "rank_hurdle": _rank_ordered(
                stats.rankdata(hurdle) + stats.rankdata(rank_model.predict(x_target)), hurdle
            ),
            "poisson_gb": poisson_revenue.predict(x_target),
            "bgnbd_gg": bg_revenue,
            "last_90_days": target["revenue_90d"].clip(lower=0.0).to_numpy(dtype=float) * scale,
        },
        orders={
            "poisson_gb": poisson_orders.predict(x_target),
            "bgnbd": bg_orders,
            "last_90_days": target["orders_90d"].to_numpy(dtype=float) * scale,
        },
        p_buy=p_buy,
        degenerate=degenerate,
    )


def _backtest(
    frame: pd.DataFrame,
    latest: pd.Timestamp,
    first_order_at: pd.Timestamp,
    horizon: float,
    n_cutoffs: int,
    step_days: float,
    n_validation_cutoffs: int,
) -> dict[str, dict[str, float]]:
    """Validation figures of each candidate on windows ending by `latest`, averaged over windows."""
    runs: list[dict[str, dict[str, float]]] = []
    for k in range(n_validation_cutoffs):
        validation_cut = latest - DAY * (horizon + k * step_days)
        cuts = training_cutoffs(first_order_at, validation_cut, horizon, n_cutoffs, step_days)
        if not cuts:
            continue
        train = stacked_training_frame(frame, cuts, horizon)
        test = labelled(frame, validation_cut, horizon)
        if train["y_bought"].nunique() < 2 or test["y_revenue"].sum() <= 0:
            continue
        predicted = _supervised(frame, train, test, validation_cut, horizon)
        actual_revenue = test["y_revenue"].to_numpy(dtype=float)
        actual_orders = test["y_orders"].to_numpy(dtype=float)
        run: dict[str, dict[str, float]] = {}
        for name, values in predicted.revenue.items():
            run[f"revenue:{name}"] = {
                "spearman": spearman(actual_revenue, values),
                "top_decile_share": top_decile_share(actual_revenue, values),
                "degenerate": float(name == "bgnbd_gg" and bool(predicted.degenerate)),
            }
        for name, values in predicted.orders.items():
            run[f"orders:{name}"] = {
                "mae": float(np.mean(np.abs(actual_orders - values))),
                "rmse": float(np.sqrt(np.mean((actual_orders - values) ** 2))),
                "degenerate": float(name == "bgnbd" and bool(predicted.degenerate)),
            }
        runs.append(run)
    if not runs:
        return {}
    result = {
        name: {m: float(np.nanmean([r[name][m] for r in runs])) for m in runs[0][name]} for name in runs[0]
    }
    for figures in result.values():
        figures["windows"] = float(len(runs))
    return result


def _choose(
    validation: dict[str, dict[str, float]],
    prefix: str,
    candidates: Sequence[str],
    score: Callable[[dict[str, float]], float],
    default: str,
) -> str:
    """The candidate with the best score, skipping degenerate fits; the default when nothing was validated."""
    scored = {}
    for name in candidates:
        figures = validation.get(f"{prefix}:{name}")
        if figures and not figures.get("degenerate") and np.isfinite(score(figures)):
            scored[name] = score(figures)
    return max(scored, key=lambda k: scored[k]) if scored else default


def predict_value(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    horizon_days: float = 92.0,
    thresholds: ValueThresholds | None = None,
    n_training_cutoffs: int = 4,
    step_days: float = 30.0,
    n_validation_cutoffs: int = 2,
) -> ValueResult:
    """Expected revenue and orders over the horizon and next order date per customer, or the fallback.

    Candidates (hurdle P(buy) x E[revenue | buy], Poisson gradient boosting, BG/NBD x Gamma-Gamma, last 90
    days) are compared on windows that end at the cut-off; the best by mean of Spearman and top-decile
    revenue share is refitted on the latest training windows and applied at the cut-off.
    """
    limits = thresholds or ValueThresholds()
    frame = validate_transactions(transactions)
    cut = as_utc(cutoff)
    horizon = float(horizon_days)
    features = customer_features(frame, cut)
    history = frame.loc[frame["ordered_at"] < cut]
    scale = horizon / 90.0
    predictions = pd.DataFrame(index=features.index)
    if len(features):
        predictions["expected_revenue"] = features["revenue_90d"].clip(lower=0.0) * scale
        predictions["expected_orders"] = features["orders_90d"] * scale
    else:
        predictions["expected_revenue"] = pd.Series(dtype=float)
        predictions["expected_orders"] = pd.Series(dtype=float)
    reason = ""
    if history.empty:
        reason = "no orders before the cut-off"
    else:
        first_order_at = history["ordered_at"].min()
        history_days = (cut - first_order_at) / DAY
        cuts = training_cutoffs(first_order_at, cut, horizon, n_training_cutoffs, step_days)
        if history_days < limits.min_history_horizons * horizon or not cuts:
            reason = f"{history_days:.0f} days of history < {limits.min_history_horizons:g} x {horizon:.0f}-day horizon"
        elif len(features) < limits.min_customers:
            reason = f"{len(features)} customers with orders < {limits.min_customers}"
    train = pd.DataFrame()
    if not reason:
        train = stacked_training_frame(frame, cuts, horizon)
        n_buyers = int(train["y_bought"].sum())
        if n_buyers < limits.min_buyers or n_buyers == len(train):
            reason = f"{n_buyers} buying customers in the training windows < {limits.min_buyers}"
    if reason:
        fallback = ModelStatus("last_90_days", True, reason)
        _add_next_order(predictions, cut, horizon)
        return ValueResult(predictions, fallback, fallback, horizon, {})
    validation = _backtest(
        frame, cut, first_order_at, horizon, n_training_cutoffs, step_days, n_validation_cutoffs
    )
    revenue_model = _choose(
        validation,
        "revenue",
        REVENUE_CANDIDATES,
        lambda f: (f["spearman"] + f["top_decile_share"]) / 2.0,
        "hurdle",
    )
    orders_model = _choose(validation, "orders", ORDER_CANDIDATES, lambda f: -f["mae"], "poisson_gb")
    final = _supervised(frame, train, features, cut, horizon)
    predictions["expected_revenue"] = np.maximum(final.revenue[revenue_model], 0.0)
    predictions["expected_orders"] = np.maximum(final.orders[orders_model], 0.0)
    predictions["p_buy"] = final.p_buy
    for name, values in final.revenue.items():
        predictions[f"revenue_{name}"] = values
    for name, values in final.orders.items():
        predictions[f"orders_{name}"] = values
    # The date needs a rate for every customer; the smooth Poisson model gives one even to the quiet ones.
    _add_next_order(predictions, cut, horizon, final.orders["poisson_gb"])
    note = "" if validation else "no validation window in the history: default model"
    return ValueResult(
        predictions,
        ModelStatus(revenue_model, False, note),
        ModelStatus(orders_model, False, note),
        horizon,
        validation,
    )


def _add_next_order(
    predictions: pd.DataFrame, cutoff: pd.Timestamp, horizon: float, expected_orders: FloatArray | None = None
) -> None:
    """Expected next order date: the mean wait of a Poisson process with the predicted order rate."""
    orders = (
        predictions["expected_orders"].to_numpy(dtype=float) if expected_orders is None else expected_orders
    )
    rate = np.asarray(orders, dtype=float) / horizon
    with np.errstate(divide="ignore"):
        wait = np.where(rate > 0, 1.0 / np.maximum(rate, 1e-12), np.inf)
    wait = np.where(wait <= MAX_WAIT_DAYS, wait, np.nan)
    predictions["expected_days_to_next_order"] = wait
    predictions["expected_next_order_at"] = cutoff + pd.to_timedelta(wait, unit="D")
