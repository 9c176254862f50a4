"""Training and scoring on the shop's own data, stored per contact and per product for segments and templates.

The models are pure functions of the order history up to a cut-off (the unit of work's clock, never the wall
clock). A run reads the shop once, fits every model, and replaces the stored scores and lists as a whole.
"""

from __future__ import annotations

import math
import time
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from babel.numbers import get_currency_precision
from scipy import sparse
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.catalog.schemas import ContactRecommendationIn, ProductKey, ProductRecommendationIn
from mailwright.contacts import service as contacts
from mailwright.contacts.schemas import ContactPredictionData
from mailwright.core.uow import UnitOfWork
from mailwright.predictions import repository
from mailwright.predictions.churn import CHURN_CANDIDATES, ChurnResult, predict_churn
from mailwright.predictions.clv import ClvResult, predict_clv
from mailwright.predictions.frames import DAY, ModelStatus, as_utc, before, orders
from mailwright.predictions.ranker import fit_recommender
from mailwright.predictions.recommend import excluded_products, recommend_buy_again
from mailwright.predictions.schemas import ContactExplanation, ModelReport, TrainingSummary
from mailwright.predictions.sendtime import HOURS_PER_WEEK, fit_send_time
from mailwright.predictions.value import ValueResult, predict_value

# Bumped whenever a change to the models would make old and new stored scores incomparable.
MODEL_VERSION = "1"
DEFAULT_HORIZON_DAYS = 92.0
LIST_LENGTH = 10
MAX_PER_CATEGORY = 3
MIN_CO_PURCHASES = 3
# Below this many opens, clicks and orders in the whole shop, per-contact hours are noise: shop-wide hour.
MIN_SEND_TIME_EVENTS = 50
STAGES: tuple[str, ...] = (
    "reading orders",
    "churn risk",
    "revenue and orders",
    "lifetime value",
    "recommendations",
    "complementary items",
    "send time",
)
# Lists stored per contact: the blended ranker's top, its new-to-you top, and the customer's re-buys.
FOR_YOU, NEW_FOR_YOU, BUY_AGAIN = "for_you", "new_for_you", "buy_again"
COMPLEMENTARY = "complementary"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ShopData:
    """Everything the models read, taken from the database in one short transaction."""

    as_of: datetime
    currency: str
    transactions: pd.DataFrame = field(repr=False)
    engagement: pd.DataFrame = field(repr=False)
    timezones: dict[int, str | None] = field(repr=False)
    products: list[ProductKey] = field(repr=False)


@dataclass(frozen=True)
class TrainedPredictions:
    """The rows a run will store and the report of the models that made them."""

    data: ShopData = field(repr=False)
    horizon_days: float
    predictions: list[ContactPredictionData] = field(repr=False)
    contact_recommendations: list[ContactRecommendationIn] = field(repr=False)
    product_recommendations: list[ProductRecommendationIn] = field(repr=False)
    models: list[ModelReport]
    seconds: dict[str, float]


def load_shop_data(session: Session, as_of: datetime, *, default_currency: str = "GBP") -> ShopData:
    """Read the orders, engagement events, time zones and catalog the models need."""
    currency = repository.shop_currency(session, default_currency)
    return ShopData(
        as_of=as_of,
        currency=currency,
        transactions=repository.transactions(session, currency),
        engagement=repository.engagement_events(session),
        timezones=contacts.contact_timezones(session),
        products=catalog.product_keys(session),
    )


def train(
    data: ShopData,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    churn_candidates: Sequence[str] = CHURN_CANDIDATES,
    progress: Progress | None = None,
) -> TrainedPredictions:
    """Fit every model on the history before `data.as_of` and build the rows to store (no database).

    `churn_candidates` are the classifiers the churn backtest chooses from; fewer is quicker.
    """
    step = progress or (lambda _stage: None)
    timings: dict[str, float] = {}
    cut = as_utc(data.as_of)
    computed_at = data.as_of
    frame = data.transactions
    history = before(frame, cut)
    scale = float(10 ** get_currency_precision(data.currency))

    started = time.perf_counter()
    step(STAGES[1])
    churn = predict_churn(frame, cut, horizon_days, candidates=churn_candidates)
    timings["churn"] = time.perf_counter() - started

    started = time.perf_counter()
    step(STAGES[2])
    value = predict_value(frame, cut, horizon_days)
    timings["value"] = time.perf_counter() - started

    started = time.perf_counter()
    step(STAGES[3])
    clv = predict_clv(frame, cut, horizon_days)
    timings["clv"] = time.perf_counter() - started

    started = time.perf_counter()
    step(STAGES[4])
    product_ids = {p.external_id: p.id for p in data.products}
    exclusion = _exclusion_frame(data.products)
    rec_rows, rec_reports = _contact_lists(
        frame, cut, horizon_days, exclusion, product_ids, churn.predictions.index, computed_at
    )
    timings["recommendations"] = time.perf_counter() - started

    started = time.perf_counter()
    step(STAGES[5])
    related = complementary_table(frame, cut, excluded_products(exclusion), LIST_LENGTH, MIN_CO_PURCHASES)
    related_rows = _related_rows(related, product_ids, computed_at)
    timings["complementary"] = time.perf_counter() - started

    started = time.perf_counter()
    step(STAGES[6])
    send_hours, send_status = _send_time(data, history)
    timings["send_time"] = time.perf_counter() - started

    reports = [
        ModelReport(
            figure="churn",
            model=churn.status.model,
            fallback=churn.status.fallback,
            reason=churn.status.reason,
            validation=churn.validation,
        ),
        _value_report("revenue", value.revenue_status, value),
        _value_report("orders", value.orders_status, value),
        _clv_report(clv, value),
        *rec_reports,
        ModelReport(
            figure="complementary",
            model="co_purchase_lift",
            fallback=False,
            reason="" if len(related) else f"no product pair bought together in {MIN_CO_PURCHASES}+ orders",
        ),
        ModelReport(
            figure="send_time",
            model=send_status.model,
            fallback=send_status.fallback,
            reason=send_status.reason,
        ),
    ]
    predictions = _prediction_rows(
        churn, value, clv, send_hours, send_status, reports, horizon_days, scale, data.currency, computed_at
    )
    return TrainedPredictions(data, horizon_days, predictions, rec_rows, related_rows, reports, timings)


def store(session: Session, trained: TrainedPredictions) -> TrainingSummary:
    """Replace the stored predictions and recommendations with this run's, through their owning domains."""
    started = time.perf_counter()
    scored = contacts.replace_predictions(session, trained.predictions)
    lists = catalog.replace_contact_recommendations(session, trained.contact_recommendations)
    related = catalog.replace_product_recommendations(session, trained.product_recommendations)
    seconds = {**trained.seconds, "store": time.perf_counter() - started}
    frame = trained.data.transactions
    history = before(frame, as_utc(trained.data.as_of))
    latest = history["ordered_at"].max() if len(history) else None
    return TrainingSummary(
        as_of=trained.data.as_of,
        version=MODEL_VERSION,
        horizon_days=int(trained.horizon_days),
        currency=trained.data.currency,
        customers=int(history["customer_id"].nunique()),
        orders=int(history["order_id"].nunique()),
        latest_order_at=None if latest is None else latest.to_pydatetime(),
        contacts_scored=scored,
        recommendations=lists,
        related_products=related,
        models=trained.models,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def train_and_score(
    uow: UnitOfWork,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    default_currency: str = "GBP",
    churn_candidates: Sequence[str] = CHURN_CANDIDATES,
    progress: Progress | None = None,
) -> TrainingSummary:
    """Fit every model as of the unit of work's clock and store the shop's predictions, in this transaction."""
    started = time.perf_counter()
    if progress is not None:
        progress(STAGES[0])
    data = load_shop_data(uow.session, uow.now(), default_currency=default_currency)
    read = time.perf_counter() - started
    trained = train(data, horizon_days=horizon_days, churn_candidates=churn_candidates, progress=progress)
    summary = store(uow.session, trained)
    return summary.model_copy(update={"seconds": {"read": round(read, 2), **summary.seconds}})


def explain(session: Session, email: str) -> ContactExplanation | None:
    """A contact's stored predictions and recommendations, found by email (None: no such contact)."""
    profile = contacts.find_by_email(session, email)
    if profile is None:
        return None
    return ContactExplanation(
        contact_id=profile.id,
        email=profile.email,
        predictions=contacts.get_predictions(session, profile.id),
        recommendations=catalog.recommendations_for_contact(session, profile.id),
    )


def complementary_table(
    transactions: pd.DataFrame,
    cutoff: datetime | pd.Timestamp,
    excluded: frozenset[str],
    k: int = LIST_LENGTH,
    min_support: int = MIN_CO_PURCHASES,
) -> pd.DataFrame:
    """Top-k products bought in the same orders as each product, by lift (as `complementary_products`).

    One sparse product-by-product co-occurrence count for the whole catalog instead of one pass over the
    history per product: the same figures, in seconds rather than minutes for a few thousand products.
    """
    columns = ["product_id", "related_id", "lift", "support", "rank"]
    frame = before(transactions, as_utc(cutoff))
    frame = frame.loc[~frame["product_id"].isin(excluded)].drop_duplicates(["order_id", "product_id"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    order_codes, _ = pd.factorize(frame["order_id"])
    product_codes, products = pd.factorize(frame["product_id"])
    baskets = sparse.csr_matrix(
        (np.ones(len(frame), dtype=np.int32), (order_codes, product_codes)),
        shape=(int(order_codes.max()) + 1, len(products)),
    )
    n_orders = baskets.shape[0]
    item_orders = np.asarray(baskets.sum(axis=0)).ravel().astype(float)
    co = (baskets.T @ baskets).tocoo()
    keep = (co.row != co.col) & (co.data >= min_support)
    rows, cols, support = co.row[keep], co.col[keep], co.data[keep].astype(float)
    if len(rows) == 0:
        return pd.DataFrame(columns=columns)
    lift = support * n_orders / (item_orders[rows] * item_orders[cols])
    pairs = pd.DataFrame(
        {
            "product_id": np.asarray(products)[rows].astype(str),
            "related_id": np.asarray(products)[cols].astype(str),
            "lift": lift,
            "support": support.astype(int),
        }
    )
    pairs = pairs.sort_values(
        ["product_id", "lift", "support", "related_id"], ascending=[True, False, False, True], kind="stable"
    )
    pairs = pairs.groupby("product_id", sort=False).head(k).copy()
    pairs["rank"] = pairs.groupby("product_id", sort=False).cumcount() + 1
    return pairs.reset_index(drop=True)


def _exclusion_frame(products: list[ProductKey]) -> pd.DataFrame:
    """The catalog as `excluded_products` reads it, plus the placeholder of orders without lines."""
    # A shop that has no product images at all would otherwise get no recommendations: only require an
    # image when the shop has images to show.
    any_image = any(p.has_image for p in products)
    frame = pd.DataFrame(
        {
            "product_id": [p.external_id for p in products] + [repository.NO_PRODUCT],
            "in_stock": [p.in_stock for p in products] + [False],
            "has_image": [p.has_image or not any_image for p in products] + [False],
        }
    )
    return frame


def _contact_lists(
    frame: pd.DataFrame,
    cut: pd.Timestamp,
    horizon_days: float,
    exclusion: pd.DataFrame,
    product_ids: dict[str, int],
    customers: pd.Index,
    computed_at: datetime,
) -> tuple[list[ContactRecommendationIn], list[ModelReport]]:
    """For-you, new-for-you and buy-again lists per customer, and the report of the ranker behind them."""
    excluded = excluded_products(exclusion)
    usable = before(frame, cut)
    usable = usable.loc[~usable["product_id"].isin(excluded)]
    if usable["customer_id"].nunique() < 2 or usable["product_id"].nunique() < 2:
        reason = "fewer than 2 customers or 2 recommendable products before the cut-off"
        report = ModelReport(figure="recommendations", model="none", fallback=True, reason=reason)
        return [], [report]
    recommender = fit_recommender(frame, cut, horizon_days, catalog=exclusion, validate=True)
    has_training = bool((usable["ordered_at"] < cut - DAY * horizon_days).any())
    ids = [str(c) for c in customers]
    lists = {
        FOR_YOU: (recommender.recommend(ids, LIST_LENGTH, max_per_category=MAX_PER_CATEGORY), "all"),
        NEW_FOR_YOU: (
            recommender.recommend(ids, LIST_LENGTH, new_only=True, max_per_category=MAX_PER_CATEGORY),
            "new",
        ),
    }
    rows: list[ContactRecommendationIn] = []
    reports: list[ModelReport] = []
    for kind, (recommended, scope) in lists.items():
        strategy = recommender.strategy_all if scope == "all" else recommender.strategy_new
        if not has_training:
            status = ModelStatus(
                strategy,
                True,
                f"no orders before {(cut - DAY * horizon_days).date()}: the blend is not learned, "
                "own purchases then ALS order the list",
            )
        elif not recommender.validation:
            status = ModelStatus(strategy, False, "no validation window in the history: default strategy")
        else:
            status = ModelStatus(strategy, False)
        validation = {k: v for k, v in recommender.validation.items() if k.startswith(f"{scope}:")}
        reports.append(
            ModelReport(
                figure=kind,
                model=status.model,
                fallback=status.fallback,
                reason=status.reason,
                validation=validation,
            )
        )
        rows += _list_rows(recommended, kind, status.model, product_ids, computed_at)
    buy_again = recommend_buy_again(frame, cut, LIST_LENGTH, catalog=exclusion)
    rows += _list_rows(buy_again, BUY_AGAIN, "own_repurchased_items", product_ids, computed_at)
    reports.append(ModelReport(figure=BUY_AGAIN, model="own_repurchased_items", fallback=False))
    return rows, reports


def _list_rows(
    recommended: dict[str, list[str]],
    kind: str,
    strategy: str,
    product_ids: dict[str, int],
    computed_at: datetime,
) -> list[ContactRecommendationIn]:
    rows: list[ContactRecommendationIn] = []
    for customer, products in recommended.items():
        # Products the catalog does not know cannot be shown in an email (no title, no link): skipped.
        known = [product_ids[p] for p in products if p in product_ids]
        rows += [
            ContactRecommendationIn(
                contact_id=int(customer),
                kind=kind,
                rank=rank,
                product_id=product_id,
                strategy=strategy,
                computed_at=computed_at,
                version=MODEL_VERSION,
            )
            for rank, product_id in enumerate(known, start=1)
        ]
    return rows


def _related_rows(
    related: pd.DataFrame, product_ids: dict[str, int], computed_at: datetime
) -> list[ProductRecommendationIn]:
    rows: list[ProductRecommendationIn] = []
    known = related.loc[related["product_id"].isin(product_ids) & related["related_id"].isin(product_ids)]
    known = known.assign(rank=known.groupby("product_id", sort=False).cumcount() + 1)
    for product, other, lift, support, rank in known.itertuples(index=False):
        rows.append(
            ProductRecommendationIn(
                product_id=product_ids[product],
                kind=COMPLEMENTARY,
                rank=int(rank),
                recommended_product_id=product_ids[other],
                score=float(lift),
                support=int(support),
                computed_at=computed_at,
                version=MODEL_VERSION,
            )
        )
    return rows


def _valid_zones(timezones: dict[int, str | None]) -> dict[str, str]:
    known = zoneinfo.available_timezones()
    return {str(contact): zone for contact, zone in timezones.items() if zone and zone in known}


def _send_time(data: ShopData, history: pd.DataFrame) -> tuple[dict[str, int], ModelStatus]:
    """Best local hour of week per contact from opens, clicks and orders, and the model that chose it."""
    placed = orders(history).loc[:, ["customer_id", "ordered_at"]]
    purchases = pd.DataFrame(
        {"contact_id": placed["customer_id"], "occurred_at": placed["ordered_at"], "kind": "order"}
    )
    engagement = data.engagement.loc[data.engagement["occurred_at"] < as_utc(data.as_of)]
    events = pd.concat([engagement, purchases], ignore_index=True) if len(engagement) else purchases
    if events.empty:
        return {}, ModelStatus("none", True, "no opens, clicks or orders yet")
    zones = _valid_zones(data.timezones)
    model = fit_send_time(events, timezones=zones)
    if len(events) < MIN_SEND_TIME_EVENTS:
        best = int(np.argmax(model.shop))
        status = ModelStatus(
            "shop_hour_of_week",
            True,
            f"{len(events)} opens, clicks and orders in the shop < {MIN_SEND_TIME_EVENTS}: shop-wide best hour",
        )
        return dict.fromkeys(model.counts, best), status
    hours = {contact: int(np.argmax(model.preference(contact))) % HOURS_PER_WEEK for contact in model.counts}
    return hours, ModelStatus("hour_of_week_shrunk", False)


def _value_report(figure: str, status: ModelStatus, value: ValueResult) -> ModelReport:
    prefix = f"{figure}:"
    validation = {k: v for k, v in value.validation.items() if k.startswith(prefix)}
    return ModelReport(
        figure=figure,
        model=status.model,
        fallback=status.fallback,
        reason=status.reason,
        validation=validation,
    )


def _clv_report(clv: ClvResult, value: ValueResult) -> ModelReport:
    """BG/NBD x Gamma-Gamma when its fit is sound; otherwise the revenue model the backtest chose."""
    if not clv.status.fallback:
        # The fitted parameters stand in for a backtest: they show whether the fit is plausible.
        params: dict[str, float] = {}
        if clv.bgnbd is not None:
            fit = clv.bgnbd
            params |= {"r": fit.r, "alpha": fit.alpha, "a": fit.a, "b": fit.b}
        if clv.gamma_gamma is not None:
            gg = clv.gamma_gamma
            params |= {"p": gg.p, "q": gg.q, "v": gg.v}
        figures = {clv.status.model: params}
        return ModelReport(figure="clv", model=clv.status.model, fallback=False, validation=figures)
    revenue = value.revenue_status
    reason = f"{clv.status.reason}; served by the revenue model ({revenue.model})"
    if revenue.fallback:
        reason += f", itself a fallback: {revenue.reason}"
    return ModelReport(figure="clv", model=revenue.model, fallback=True, reason=reason)


def _moment(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    # Whole seconds: a date to plan an email around needs no nanoseconds (which datetime cannot hold).
    moment: datetime = pd.Timestamp(value).round("s").to_pydatetime()
    return moment


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _prediction_rows(
    churn: ChurnResult,
    value: ValueResult,
    clv: ClvResult,
    send_hours: dict[str, int],
    send_status: ModelStatus,
    reports: list[ModelReport],
    horizon_days: float,
    scale: float,
    currency: str,
    computed_at: datetime,
) -> list[ContactPredictionData]:
    """One row per contact with orders or engagement, each figure naming its model and any fallback."""
    by_figure = {r.figure: r for r in reports}
    fallbacks = {r.figure: r.reason for r in reports if r.fallback and r.figure != "complementary"}
    status = "fallback" if fallbacks else "ok"
    clv_report = by_figure["clv"]
    churn_risk = churn.predictions["churn_probability"]
    revenue = value.predictions["expected_revenue"]
    expected_orders = value.predictions["expected_orders"]
    next_order = value.predictions["expected_next_order_at"]
    clv_values = clv.predictions["clv"] if not clv.status.fallback else revenue
    p_alive = clv.predictions.get("p_alive")
    contacts_ = sorted(set(churn_risk.index) | set(send_hours), key=int)
    rows: list[ContactPredictionData] = []
    for contact in contacts_:
        revenue_major = _number(revenue.get(contact))
        clv_major = _number(clv_values.get(contact))
        next_at = next_order.get(contact)
        rows.append(
            ContactPredictionData(
                contact_id=int(contact),
                computed_at=computed_at,
                version=MODEL_VERSION,
                horizon_days=int(horizon_days),
                currency=currency,
                status=status,
                churn_risk=_number(churn_risk.get(contact)),
                churn_model=churn.status.model if contact in churn_risk.index else None,
                predicted_revenue_minor=None if revenue_major is None else round(revenue_major * scale),
                revenue_model=value.revenue_status.model if revenue_major is not None else None,
                predicted_orders=_number(expected_orders.get(contact)),
                orders_model=value.orders_status.model if contact in expected_orders.index else None,
                expected_next_order_at=_moment(next_at),
                clv_minor=None if clv_major is None else round(clv_major * scale),
                p_alive=None if p_alive is None else _number(p_alive.get(contact)),
                clv_model=clv_report.model if clv_major is not None else None,
                best_send_hour=send_hours.get(contact),
                send_time_model=send_status.model if contact in send_hours else None,
                fallbacks=fallbacks,
            )
        )
    return rows
