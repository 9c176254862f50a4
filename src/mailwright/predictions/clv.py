"""BG/NBD and Gamma-Gamma customer lifetime value, fitted by maximum likelihood with scipy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special

from mailwright.predictions.frames import DAY, ModelStatus, as_utc, before, in_days, validate_transactions

FloatArray = npt.NDArray[np.float64]

# Log-parameter box: wide enough for any real shop, and hitting it is how a degenerate fit shows up.
LOG_BOUND = 12.0
BOUND_MARGIN = 1.0


@dataclass(frozen=True)
class ClvThresholds:
    """Minimum data for BG/NBD x Gamma-Gamma; below it the CLV falls back to recent revenue."""

    min_customers: int = 100
    min_repeat_customers: int = 30
    min_history_days: int = 90


@dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD parameters, with degenerate-fit diagnosis (time measured in `time_unit_days`)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    time_unit_days: float
    degenerate: bool
    reason: str = ""


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma spend parameters on repeat customers' average spend."""

    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    degenerate: bool
    reason: str = ""


@dataclass(frozen=True)
class ClvResult:
    """Per-customer CLV predictions at a cut-off, with the fits and which model produced them."""

    predictions: pd.DataFrame = field(repr=False)
    status: ModelStatus
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None


def summary_data(
    transactions: pd.DataFrame, cutoff: datetime | pd.Timestamp, time_unit_days: float = 1.0
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer from purchases before the cut-off.

    Same-day purchases are merged into one transaction (as in Fader, Hardie & Lee 2005). T runs from the
    first purchase day to the last day before the cut-off; monetary value is the mean of repeat days' revenue.
    """
    cut = as_utc(cutoff)
    frame = before(transactions, cut)
    last_day = (cut - pd.Timedelta(1, "ns")).floor("D")
    daily = (
        frame.assign(day=frame["ordered_at"].dt.floor("D"))
        .groupby(["customer_id", "day"], sort=True)["revenue"]
        .sum()
        .reset_index()
    )
    grouped = daily.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    first_revenue = grouped["revenue"].first()
    total = grouped["revenue"].sum()
    frequency = (count - 1).astype(float)
    result = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": in_days(last - first, time_unit_days),
            "T": in_days(last_day - first, time_unit_days),
            "monetary_value": np.where(frequency > 0, (total - first_revenue) / frequency.clip(lower=1), 0.0),
        }
    )
    result.index.name = "customer_id"
    return result


def _arrays(summary: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (
        summary["frequency"].to_numpy(dtype=float),
        summary["recency"].to_numpy(dtype=float),
        summary["T"].to_numpy(dtype=float),
    )


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.where(
        repeat, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf
    )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=float)


def _minimize(objective: object, start: FloatArray) -> FloatArray:
    """L-BFGS-B on log-parameters inside the box, then a Nelder-Mead polish for the last digits."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    polished = optimize.minimize(
        objective,
        np.clip(first.x, -LOG_BOUND, LOG_BOUND),
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000},
    )
    best = polished.x if polished.fun <= first.fun else first.x
    return np.asarray(best, dtype=float)


def _at_bound(log_params: FloatArray) -> list[int]:
    return [i for i, v in enumerate(log_params) if abs(v) > LOG_BOUND - BOUND_MARGIN]


def fit_bgnbd(summary: pd.DataFrame, time_unit_days: float = 1.0) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood and flag a degenerate fit (parameters at the bounds)."""
    x, tx, T = _arrays(summary)
    # Scaling time to about one keeps alpha near one, so the same start works for days and weeks.
    scale = max(float(np.max(T)) if len(T) else 1.0, 1e-9)
    xs, txs, Ts = x, tx / scale, T / scale

    def objective(log_params: FloatArray) -> float:
        r, alpha, a, b = np.exp(log_params)
        value = -float(np.sum(bgnbd_log_likelihood(r, alpha, a, b, xs, txs, Ts)))
        return value if np.isfinite(value) else 1e300

    best = _minimize(objective, np.zeros(4))
    r, alpha_scaled, a, b = (float(v) for v in np.exp(best))
    alpha = alpha_scaled * scale
    log_likelihood = float(np.sum(bgnbd_log_likelihood(r, alpha, a, b, x, tx, T)))
    names = ["r", "alpha", "a", "b"]
    bounded = [names[i] for i in _at_bound(best)]
    reasons = []
    if bounded:
        reasons.append(f"maximum-likelihood estimate at the parameter bounds ({', '.join(bounded)})")
    if a / (a + b) < 1e-4:
        reasons.append(
            f"drop-out probability a/(a+b)={a / (a + b):.2e}: nobody ever drops out, P(alive)=1 for everyone"
        )
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=log_likelihood,
        n_customers=len(x),
        time_unit_days=time_unit_days,
        degenerate=bool(reasons),
        reason="; ".join(reasons),
    )


def probability_alive(fit: BgNbdFit, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
    """P(customer still active) given frequency, recency and age T (in the fit's time unit)."""
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    log_ratio = (fit.r + x) * (np.log(fit.alpha + big_t) - np.log(fit.alpha + tx))
    log_term = np.log(fit.a) - np.log(np.maximum(fit.b + x - 1, 1e-300)) + log_ratio
    result = np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_term, 700.0))), 1.0)
    return np.asarray(result, dtype=float)


def expected_purchases(
    fit: BgNbdFit, t: float | FloatArray, frequency: FloatArray, recency: FloatArray, T: FloatArray
) -> FloatArray:
    """Expected repeat purchases in the next t time units, conditional on each customer's history."""
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    t_arr = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    z = t_arr / (alpha + big_t + t_arr)
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        bracket = 1.0 - np.power((alpha + big_t) / (alpha + big_t + t_arr), r + x) * hyp
        numerator = (a + b + x - 1) / (a - 1) * bracket
        result = numerator * probability_alive(fit, x, tx, big_t)
    # With (almost) no drop-out the model is the NBD, and its closed form avoids hyp2f1's cancellation.
    nbd = (r + x) * t_arr / (alpha + big_t)
    use_nbd = ~np.isfinite(result) | (a / (a + b) < 1e-6) | (result < 0)
    return np.asarray(np.where(use_nbd, nbd * probability_alive(fit, x, tx, big_t), result), dtype=float)


def expected_purchases_new_customer(fit: BgNbdFit, t: float | FloatArray) -> FloatArray:
    """Expected repeat purchases in t time units for a customer who just made a first purchase."""
    t_arr = np.asarray(t, dtype=float)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r, b, a + b - 1, t_arr / (alpha + t_arr))
        value = (a + b - 1) / (a - 1) * (1.0 - np.power(alpha / (alpha + t_arr), r) * hyp)
    nbd = r * t_arr / alpha
    return np.asarray(np.where(np.isfinite(value) & (a / (a + b) >= 1e-6), value, nbd), dtype=float)


def gamma_gamma_log_likelihood(p: float, q: float, v: float, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of average spend m over x repeat transactions."""
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v),
        dtype=float,
    )


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaFit:
    """Fit Gamma-Gamma on repeat customers with positive average spend."""
    repeat = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    x = repeat["frequency"].to_numpy(dtype=float)
    m = repeat["monetary_value"].to_numpy(dtype=float)
    scale = max(float(np.mean(m)) if len(m) else 1.0, 1e-9)

    def objective(log_params: FloatArray) -> float:
        p, q, v = np.exp(log_params)
        value = -float(np.sum(gamma_gamma_log_likelihood(p, q, v, x, m / scale)))
        return value if np.isfinite(value) else 1e300

    best = _minimize(objective, np.zeros(3))
    p, q, v_scaled = (float(val) for val in np.exp(best))
    v = v_scaled * scale
    bounded = [["p", "q", "v"][i] for i in _at_bound(best)]
    reasons = []
    if bounded:
        reasons.append(f"maximum-likelihood estimate at the parameter bounds ({', '.join(bounded)})")
    if q <= 1.0:
        reasons.append(f"q={q:.3f} <= 1: the population mean spend is infinite")
    return GammaGammaFit(
        p=p,
        q=q,
        v=v,
        log_likelihood=float(np.sum(gamma_gamma_log_likelihood(p, q, v, x, m))),
        n_customers=len(x),
        degenerate=bool(reasons),
        reason="; ".join(reasons),
    )


def expected_average_spend(
    fit: GammaGammaFit, frequency: FloatArray, monetary_value: FloatArray
) -> FloatArray:
    """Expected spend per future transaction: a shrinkage of the customer's mean toward the population's."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    return np.asarray(fit.p * (fit.v + x * m) / (fit.p * x + fit.q - 1.0), dtype=float)


def customer_lifetime_value(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summary: pd.DataFrame,
    horizon_days: float,
    annual_discount_rate: float = 0.0,
    steps: int = 12,
) -> FloatArray:
    """Expected (discounted) revenue over the horizon: purchases per step x expected spend."""
    x, tx, T = _arrays(summary)
    spend = expected_average_spend(gamma_gamma, x, summary["monetary_value"].to_numpy(dtype=float))
    edges = np.linspace(0.0, horizon_days / bgnbd.time_unit_days, steps + 1)
    cumulative = [np.zeros_like(x)] + [expected_purchases(bgnbd, t, x, tx, T) for t in edges[1:]]
    value = np.zeros_like(x)
    for k in range(1, steps + 1):
        years = edges[k] * bgnbd.time_unit_days / 365.25
        value += (cumulative[k] - cumulative[k - 1]) * spend / (1.0 + annual_discount_rate) ** years
    return value


def predict_clv(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    horizon_days: float = 92.0,
    time_unit_days: float = 7.0,
    thresholds: ClvThresholds | None = None,
) -> ClvResult:
    """Per-customer P(alive), expected purchases, spend and CLV over the horizon, or the named fallback."""
    limits = thresholds or ClvThresholds()
    frame = validate_transactions(transactions)
    cut = as_utc(cutoff)
    summary = summary_data(frame, cut, time_unit_days)
    history_days = summary["T"].max() * time_unit_days if len(summary) else 0.0
    repeaters = int((summary["frequency"] > 0).sum())
    reason = ""
    if len(summary) < limits.min_customers:
        reason = f"{len(summary)} customers with orders < {limits.min_customers}"
    elif repeaters < limits.min_repeat_customers:
        reason = f"{repeaters} repeat customers < {limits.min_repeat_customers}"
    elif history_days < limits.min_history_days:
        reason = f"{history_days:.0f} days of history < {limits.min_history_days}"
    bg: BgNbdFit | None = None
    gg: GammaGammaFit | None = None
    if not reason:
        bg = fit_bgnbd(summary, time_unit_days)
        gg = fit_gamma_gamma(summary)
        if bg.degenerate:
            reason = f"BG/NBD fit degenerate: {bg.reason}"
        elif gg.degenerate:
            reason = f"Gamma-Gamma fit degenerate: {gg.reason}"
    predictions = summary.copy()
    if reason or bg is None or gg is None:
        recent = last_days_revenue(frame, cut, 90.0)
        predictions["clv"] = recent.reindex(summary.index, fill_value=0.0) * horizon_days / 90.0
        status = ModelStatus("last_90_days_revenue", True, reason)
        return ClvResult(predictions, status, bg, gg)
    x, tx, T = _arrays(summary)
    t = horizon_days / time_unit_days
    predictions["p_alive"] = probability_alive(bg, x, tx, T)
    predictions["expected_purchases"] = expected_purchases(bg, t, x, tx, T)
    predictions["expected_spend"] = expected_average_spend(
        gg, x, summary["monetary_value"].to_numpy(dtype=float)
    )
    predictions["clv"] = customer_lifetime_value(bg, gg, summary, horizon_days)
    return ClvResult(predictions, ModelStatus("bgnbd_gamma_gamma", False), bg, gg)


def last_days_revenue(transactions: pd.DataFrame, cutoff: pd.Timestamp, days: float) -> pd.Series:
    """Revenue per customer in the `days` before the cut-off (the 'recent revenue repeats' baseline)."""
    frame = transactions.loc[
        (transactions["ordered_at"] < cutoff) & (transactions["ordered_at"] >= cutoff - DAY * days)
    ]
    return frame.groupby("customer_id")["revenue"].sum()
