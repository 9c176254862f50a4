"""Acquisition cohorts: the table, its invariants, the chart and report, and the API."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.segments.test_rfm import buy

from mailwright.core.clock import ManualClock
from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.segments import cohorts, rfm
from mailwright.segments.charts import cohort_heatmap
from mailwright.segments.cohorts_report import write_report

AS_OF = datetime(2026, 4, 20, tzinfo=UTC)
JAN, FEB, MAR, APR = (datetime(2026, m, d, 12, tzinfo=UTC) for m, d in ((1, 15), (2, 10), (3, 5), (4, 1)))


def shop(runtime: Runtime) -> None:
    """A in January (orders Jan, Feb), B in January (Jan only), C in February (Feb twice, Apr)."""
    buy(
        runtime,
        [
            ("a", JAN, 1000),
            ("a", FEB, 3000),
            ("b", JAN, 2000),
            ("c", FEB, 500),
            ("c", FEB.replace(day=20), 700),
            ("c", APR, 800),
        ],
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("retention", {"2026-01": [1.0, 0.5, 0.0, 0.0], "2026-02": [1.0, 0.0, 1.0, None]}),
        ("revenue", {"2026-01": [15.0, 15.0, 0.0, 0.0], "2026-02": [12.0, 0.0, 8.0, None]}),
        ("cumulative_revenue", {"2026-01": [15.0, 30.0, 30.0, 30.0], "2026-02": [12.0, 12.0, 20.0, None]}),
    ],
)
def test_cohort_table_by_month(
    runtime: Runtime, metric: cohorts.Metric, expected: dict[str, list[float | None]]
) -> None:
    shop(runtime)
    with runtime.uow() as uow:
        table = cohorts.cohort_table(uow.session, AS_OF, metric=metric)
    assert (table.metric, table.period, table.currency, table.periods) == (metric, "month", "GBP", 4)
    assert {r.cohort: r.values for r in table.cohorts} == expected
    assert [(r.cohort, r.customers) for r in table.cohorts] == [("2026-01", 2), ("2026-02", 1)]
    assert table.label == cohorts.LABELS[metric]


def test_by_quarter_and_as_of_an_earlier_moment(runtime: Runtime) -> None:
    shop(runtime)
    with runtime.uow() as uow:
        quarters = cohorts.cohort_table(uow.session, AS_OF, period="quarter")
        march = cohorts.cohort_table(uow.session, datetime(2026, 3, 1, tzinfo=UTC))
    assert [(r.cohort, r.customers, r.values) for r in quarters.cohorts] == [("2026-Q1", 3, [1.0, 0.3333])]
    # As of March 1st the April order does not exist yet, and March is the last period observed.
    assert [(r.cohort, r.values) for r in march.cohorts] == [
        ("2026-01", [1.0, 0.5, 0.0]),
        ("2026-02", [1.0, 0.0, None]),
    ]


def test_bad_metric_or_period_names_the_field(runtime: Runtime) -> None:
    with runtime.uow() as uow, pytest.raises(InvalidInput) as error:
        cohorts.cohort_table(uow.session, AS_OF, metric="profit")  # type: ignore[arg-type]
    assert error.value.field == "metric"
    with runtime.uow() as uow, pytest.raises(InvalidInput) as error:
        cohorts.cohort_table(uow.session, AS_OF, period="week")  # type: ignore[arg-type]
    assert error.value.field == "period"


orders = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=30),
        st.integers(min_value=0, max_value=23),
        st.integers(min_value=0, max_value=10**6),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=80, deadline=None)
@given(orders, st.sampled_from(cohorts.METRICS))
def test_cohort_invariants(rows: list[tuple[int, int, int]], metric: cohorts.Metric) -> None:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    periods = np.array([r[1] for r in rows], dtype=np.int64) + 24_000
    totals = np.array([r[2] for r in rows], dtype=np.int64)
    as_of_period = int(periods.max())
    table = cohorts.build_table(
        ids,
        periods,
        totals,
        as_of_period=as_of_period,
        as_of=AS_OF,
        metric=metric,
        period="month",
        currency="GBP",
    )
    assert sum(r.customers for r in table.cohorts) == len(set(ids.tolist()))
    for row in table.cohorts:
        observed = [v for v in row.values if v is not None]
        # Cells after the moment are None, and only those.
        assert row.values[len(observed) :] == [None] * (len(row.values) - len(observed))
        assert len(row.values) == table.periods
        if metric == "retention":
            assert observed[0] == 1.0
            assert all(0.0 <= v <= 1.0 for v in observed)
        if metric == "cumulative_revenue":
            assert observed == sorted(observed)
    if metric == "revenue":
        spent = sum(r.customers * v for r in table.cohorts for v in r.values if v is not None)
        # Each cell is rounded to the penny: at most half a penny per customer and period apart.
        slack = 0.005 * sum(r.customers for r in table.cohorts) * table.periods + 1e-6
        assert spent == pytest.approx(totals.sum() / 100, abs=slack)


def test_heat_map_and_report_are_written(runtime: Runtime, clock: ManualClock, tmp_path: Path) -> None:
    shop(runtime)
    with runtime.uow() as uow:
        rfm.refresh_rfm(uow, AS_OF)
        summary = rfm.summary(uow.session, "GBP")
        tables = [cohorts.cohort_table(uow.session, AS_OF, metric=m) for m in ("retention", "revenue")]
    png = cohort_heatmap(tables[0], tmp_path / "alone.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = write_report(tmp_path / "report", summary, tables, title="Test shop")
    html = report.read_text()
    assert "Champions" in html and "2026-02" in html and "50.0%" in html
    for image in ("rfm.png", "cohorts_retention_month.png", "cohorts_revenue_month.png"):
        assert f"src='{image}'" in html
        assert (report.parent / image).read_bytes()[:4] == b"\x89PNG"


def test_cohorts_api(client: TestClient, admin_token: str, runtime: Runtime, clock: ManualClock) -> None:
    shop(runtime)
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert client.get("/api/v1/cohorts").status_code == 401
    response = client.get(
        "/api/v1/cohorts", params={"as_of": AS_OF.isoformat(), "metric": "revenue"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["metric"], body["period"], body["currency"]) == ("revenue", "month", "GBP")
    assert body["cohorts"][1] == {"cohort": "2026-02", "customers": 1, "values": [12.0, 0.0, 8.0, None]}
    # Without as_of: the server's clock (2026-11-02), so the January cohort is followed for ten months.
    now = client.get("/api/v1/cohorts", params={"period": "quarter"}, headers=auth).json()
    assert now["periods"] == 4 and now["cohorts"][0]["cohort"] == "2026-Q1"
    bad = client.get("/api/v1/cohorts", params={"metric": "profit"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "query.metric"
