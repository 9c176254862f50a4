"""Send-time preference per contact over the 168 hours of the week, shrunk toward the shop's pattern."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
HOURS_PER_WEEK = 168
# Opens are noisy (mail privacy proxies pre-fetch them), so they count less than clicks and orders.
DEFAULT_WEIGHTS: Mapping[str, float] = {"click": 1.0, "order": 1.0, "open": 0.5}


@dataclass(frozen=True)
class SendTimeModel:
    """Shop-wide and per-contact hour-of-week distributions (Monday 00:00 local = bin 0)."""

    shop: FloatArray = field(repr=False)
    counts: dict[str, FloatArray] = field(repr=False)
    prior_strength: float
    epsilon: float

    def preference(self, contact_id: str) -> FloatArray:
        """Posterior mean of the contact's hour-of-week distribution (Dirichlet shrinkage to the shop)."""
        counts = self.counts.get(contact_id)
        if counts is None:
            return self.shop.copy()
        posterior = (counts + self.prior_strength * self.shop) / (counts.sum() + self.prior_strength)
        return np.asarray(posterior, dtype=float)

    def best_send_time(
        self,
        contact_id: str,
        now: datetime,
        timezone: str,
        rng: np.random.Generator | None = None,
    ) -> datetime:
        """The next start of the contact's best local hour of week after `now` (or an exploration hour)."""
        preference = self.preference(contact_id)
        target = int(np.argmax(preference))
        if rng is not None and self.epsilon > 0 and rng.random() < self.epsilon:
            # Exploration: a slot drawn from the flattened preference, so the model keeps seeing other hours.
            flattened = np.sqrt(preference)
            target = int(rng.choice(HOURS_PER_WEEK, p=flattened / flattened.sum()))
        return next_local_hour_of_week(now, target, timezone)


def hour_of_week(moments: pd.Series, timezone: str) -> npt.NDArray[np.int64]:
    """Hour-of-week bin (0 = Monday 00:00) of tz-aware timestamps in the given IANA time zone."""
    local = pd.to_datetime(moments, utc=True).dt.tz_convert(timezone)
    return np.asarray(local.dt.day_of_week * 24 + local.dt.hour, dtype=np.int64)


def next_local_hour_of_week(now: datetime, target: int, timezone: str) -> datetime:
    """The first local `target` hour-of-week start strictly after `now`, as an aware datetime in the zone."""
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    start = local_now.replace(minute=0, second=0, microsecond=0)
    # Step in UTC so DST changes neither repeat nor skip real instants; two weeks covers a skipped hour.
    start_utc = start.astimezone(ZoneInfo("UTC"))
    for step in range(1, 2 * HOURS_PER_WEEK + 3):
        candidate = (start_utc + timedelta(hours=step)).astimezone(zone)
        if candidate.minute == 0 and candidate.weekday() * 24 + candidate.hour == target and candidate > now:
            return candidate
    raise ValueError(f"hour of week {target} does not occur in {timezone}")


def fit_send_time(
    events: pd.DataFrame,
    timezones: Mapping[str, str] | None = None,
    default_timezone: str = "UTC",
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    prior_strength: float | None = None,
    epsilon: float = 0.1,
) -> SendTimeModel:
    """Fit hour-of-week preferences from events (contact_id, occurred_at tz-aware, kind: open/click/order).

    The prior strength is estimated by empirical Bayes (method of moments of a Dirichlet-multinomial) unless
    given: contacts with few events then look like the shop, contacts with many look like themselves.
    """
    zones = timezones or {}
    frame = events.loc[:, ["contact_id", "occurred_at", "kind"]].reset_index(drop=True)
    frame["contact_id"] = frame["contact_id"].astype(str)
    frame["weight"] = frame["kind"].map(dict(weights)).fillna(0.0).astype(float)
    frame = frame.loc[frame["weight"] > 0]
    bins = np.zeros(len(frame), dtype=np.int64)
    zone_of = frame["contact_id"].map(lambda c: zones.get(c, default_timezone))
    for zone, index in frame.groupby(zone_of).groups.items():
        rows = frame.index.get_indexer(index)
        bins[rows] = hour_of_week(frame.loc[index, "occurred_at"], str(zone))
    frame["bin"] = bins
    table = frame.pivot_table(
        index="contact_id", columns="bin", values="weight", aggfunc="sum", fill_value=0.0
    )
    table = table.reindex(columns=range(HOURS_PER_WEEK), fill_value=0.0)
    matrix = table.to_numpy(dtype=float)
    total = matrix.sum(axis=0)
    # A whisker of uniform mass keeps every hour possible, even hours nobody has acted in yet.
    shop = (total + 1.0) / (total.sum() + HOURS_PER_WEEK)
    strength = prior_strength if prior_strength is not None else estimate_prior_strength(matrix, shop)
    counts = {str(c): matrix[i] for i, c in enumerate(table.index)}
    return SendTimeModel(shop, counts, float(strength), float(epsilon))


def estimate_prior_strength(matrix: FloatArray, shop: FloatArray, default: float = 10.0) -> float:
    """Dirichlet concentration from the overdispersion of contacts' counts around the shop's distribution."""
    n = matrix.sum(axis=1)
    rich = n >= 2
    if rich.sum() < 5:
        return default
    proportions = matrix[rich] / n[rich, None]
    # Var(p_ik) = shop_k (1 - shop_k) (1/n_i + (1 - 1/n_i) / (A + 1)) for a Dirichlet-multinomial.
    observed = ((proportions - shop) ** 2).sum(axis=1)
    binomial = (shop * (1 - shop)).sum()
    excess = np.mean((observed - binomial / n[rich]) / (1 - 1 / n[rich]))
    if excess <= 0:
        return 1000.0
    return float(np.clip(binomial / excess - 1.0, 0.5, 1000.0))
