"""Training and scoring on a shop ingested through the real path: stored, read back, refreshed nightly."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.predictions.shop import email_of, ingest, order_events

from mailwright.catalog import service as catalog
from mailwright.catalog.models import ContactRecommendation
from mailwright.contacts import service as contacts
from mailwright.contacts.models import ContactPrediction
from mailwright.core.clock import ManualClock
from mailwright.core.models import Job
from mailwright.core.runtime import Runtime
from mailwright.predictions import repository, service
from mailwright.predictions.jobs import REFRESH_JOB
from mailwright.predictions.recommend import complementary_products
from mailwright.predictions.schemas import TrainingSummary

HORIZON = 30.0
# The gradient-boosting candidate is exercised by the model tests; here it would only slow the storage tests.
QUICK = ("logistic_rfm", "logistic_all")


def contact_id(session: Session, customer: int) -> int:
    profile = contacts.find_by_email(session, email_of(customer))
    assert profile is not None
    return profile.id


@pytest.fixture
def rich_shop(runtime: Runtime, clock: ManualClock) -> TrainingSummary:
    ingest(runtime, order_events(240, 200, clock.now(), with_opens=True))
    with runtime.uow() as uow:
        return service.train_and_score(uow, horizon_days=HORIZON, churn_candidates=QUICK)


def test_rich_shop_gets_model_scores_and_lists_stored_and_read_back(
    rich_shop: TrainingSummary, runtime: Runtime, session: Session, clock: ManualClock
) -> None:
    models = {m.figure: m for m in rich_shop.models}
    assert rich_shop.contacts_scored == 240
    assert rich_shop.as_of == clock.now()
    assert not models["churn"].fallback and models["churn"].validation
    assert not models["revenue"].fallback and models["revenue"].validation
    assert models["send_time"].model == "hour_of_week_shrunk"

    loyal, lapsed = contact_id(session, 0), contact_id(session, 1)
    kept = contacts.get_predictions(session, loyal)
    gone = contacts.get_predictions(session, lapsed)
    assert kept is not None and gone is not None
    assert (kept.computed_at, kept.version, kept.horizon_days) == (clock.now(), service.MODEL_VERSION, 30)
    assert kept.churn_model == models["churn"].model and kept.revenue_model == models["revenue"].model
    assert "churn" not in kept.fallbacks
    # Customer 1 stopped buying 100 days ago, customer 0 still buys every week or two.
    assert kept.churn_risk is not None and gone.churn_risk is not None
    assert kept.churn_risk < 0.5 < gone.churn_risk
    assert (kept.predicted_revenue_minor or 0) > (gone.predicted_revenue_minor or 0)
    assert kept.expected_next_order_at is not None and kept.expected_next_order_at > clock.now()
    assert kept.best_send_hour is not None and 0 <= kept.best_send_hour < 168

    lists = catalog.recommendations_for_contact(session, loyal)
    by_kind: dict[str, list[str]] = {}
    for rec in lists:
        by_kind.setdefault(rec.kind, []).append(rec.product.external_id)
    assert len(by_kind[service.FOR_YOU]) == service.LIST_LENGTH
    assert len(set(by_kind[service.FOR_YOU])) == service.LIST_LENGTH
    with runtime.uow() as uow:
        frame = repository.transactions(uow.session, "GBP")
    bought = set(frame.loc[frame["customer_id"] == str(loyal), "product_id"])
    assert not set(by_kind[service.NEW_FOR_YOU]) & bought
    assert by_kind[service.BUY_AGAIN] and set(by_kind[service.BUY_AGAIN]) <= bought

    # Pairs are bought together, so p0's best complement is p1, with the lift the pure model computes.
    related = catalog.related_products(session, "p0")
    assert related[0].product.external_id == "p1"
    expected = dict(complementary_products(frame, "p0", clock.now(), k=10))
    assert related[0].score == pytest.approx(expected["p1"])
    assert {r.product.external_id for r in related} == set(expected)


def test_a_second_run_replaces_the_first(runtime: Runtime, session: Session, clock: ManualClock) -> None:
    ingest(runtime, order_events(8, 60, clock.now()))
    with runtime.uow() as uow:
        first = service.train_and_score(uow)
    clock.advance(timedelta(days=1))
    ingest(runtime, order_events(10, 60, clock.now(), seed=1)[-3:])
    with runtime.uow() as uow:
        again = service.train_and_score(uow)
    assert first.contacts_scored == 8 < again.contacts_scored
    stamps = session.execute(select(ContactPrediction.computed_at).distinct()).scalars().all()
    assert stamps == [clock.now()]
    assert session.scalar(select(func.count()).select_from(ContactPrediction)) == again.contacts_scored
    rows = session.scalar(select(func.count()).select_from(ContactRecommendation))
    assert rows == again.recommendations > 0


def test_thin_shop_stores_the_named_fallback_and_why(
    runtime: Runtime, session: Session, clock: ManualClock
) -> None:
    ingest(runtime, order_events(6, 60, clock.now()))
    with runtime.uow() as uow:
        summary = service.train_and_score(uow)
    models = {m.figure: m for m in summary.models}
    assert (models["churn"].model, models["churn"].fallback) == ("recency_only", True)
    assert (models["revenue"].model, models["revenue"].fallback) == ("last_90_days", True)
    assert models["send_time"].fallback

    stored = contacts.get_predictions(session, contact_id(session, 0))
    assert stored is not None
    assert stored.status == "fallback"
    assert stored.churn_model == "recency_only"
    assert stored.fallbacks["churn"] == models["churn"].reason
    assert "days of history" in stored.fallbacks["churn"]
    assert stored.fallbacks["clv"].startswith("6 customers with orders < ")
    assert stored.clv_model == "last_90_days"
    assert stored.send_time_model == "shop_hour_of_week"
    assert "opens, clicks and orders in the shop" in stored.fallbacks["send_time"]
    assert stored.churn_risk is not None and 0.0 <= stored.churn_risk <= 1.0


def test_empty_shop_scores_nobody_without_failing(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        summary = service.train_and_score(uow)
    assert (summary.contacts_scored, summary.recommendations, summary.related_products) == (0, 0, 0)
    assert all(m.fallback for m in summary.models if m.figure in ("churn", "revenue", "send_time"))


def test_refresh_runs_nightly_by_the_clock(runtime: Runtime, session: Session, clock: ManualClock) -> None:
    ingest(runtime, order_events(6, 60, clock.now()))
    first = clock.now()
    runtime.runner.tick()
    someone = contact_id(session, 0)

    def computed_at() -> pd.Timestamp | None:
        session.expire_all()
        stored = contacts.get_predictions(session, someone)
        return None if stored is None else stored.computed_at

    assert computed_at() == first
    clock.advance(timedelta(hours=20))
    runtime.runner.tick()
    assert computed_at() == first
    clock.advance(timedelta(hours=4))
    runtime.runner.tick()
    assert computed_at() == clock.now()
    statuses = session.scalars(select(Job.status).where(Job.name == REFRESH_JOB)).all()
    assert statuses == ["done", "done"]


def test_complementary_table_matches_the_per_product_model(make_transactions: object) -> None:
    from tests.predictions.conftest import synthetic_transactions

    frame = synthetic_transactions(60, 200, seed=3, products=12)
    cut = pd.Timestamp("2024-06-01", tz="UTC")
    table = service.complementary_table(frame, cut, frozenset(), k=5, min_support=3)
    for product in ("p0", "p5", "p11"):
        expected = complementary_products(frame, product, cut, k=5, min_support=3)
        mine = table.loc[table["product_id"] == product]
        assert dict(zip(mine["related_id"], mine["lift"], strict=True)) == pytest.approx(dict(expected))
