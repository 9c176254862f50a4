"""RFM and cohorts from the management API and the CLI, on a committed database."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.segments.test_rfm import buy
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.orders import service as orders_service

AS_OF = datetime(2011, 12, 10, tzinfo=UTC)


def test_rfm_api_needs_a_token_then_refreshes_and_summarizes(
    client: TestClient, admin_token: str, runtime: Runtime, clock: ManualClock
) -> None:
    now = clock.now()
    buy(runtime, [(f"c{c}", now - timedelta(days=7 * c), 1000 + 100 * c) for c in range(12)])
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert client.get("/api/v1/rfm").status_code == 401
    assert client.post("/api/v1/rfm/refresh").status_code == 401
    before = client.get("/api/v1/rfm", headers=auth).json()
    assert (before["computed_at"], before["customers_scored"], before["thresholds"]) == (None, 0, None)
    refreshed = client.post("/api/v1/rfm/refresh", headers=auth)
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["customers_scored"] == 12
    assert body["computed_at"].startswith(now.strftime("%Y-%m-%dT%H:%M"))
    assert body["thresholds"]["source"] == "default"
    assert body["seconds"] is not None
    assert sum(s["customers"] for s in body["segments"]) == 12
    assert sum(s["customers"] for s in body["lifecycle"]) == 12
    assert [len(row) for row in body["scores"]["r_by_fm"]] == [5] * 5
    summary = client.get("/api/v1/rfm", headers=auth).json()
    assert {k: v for k, v in summary.items() if k != "seconds"} == {
        k: v for k, v in body.items() if k != "seconds"
    }


@pytest.fixture
def cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    # A small historical shop whose last orders are just before AS_OF, committed where the CLI reads it.
    shop = Runtime(Settings(database_url=fresh_database_url, _env_file=None), clock=ManualClock(AS_OF))  # type: ignore[call-arg]
    buy(
        shop,
        [
            (f"c{c}", AS_OF - timedelta(days=11 * c + 1) - timedelta(days=30 * k), 2000 + 50 * c)
            for c in range(20)
            for k in range(1 + c % 3)
        ],
    )
    shop.database.engine.dispose()
    yield CliRunner()


def test_cli_rfm_as_of_a_historical_day(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rfm", "--as-of", "2011-12-10", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["computed_at"].startswith("2011-12-10T00:00:00")
    assert summary["customers_scored"] == 20
    assert sum(s["customers"] for s in summary["segments"]) == 20
    text = cli.invoke(app, ["rfm", "--as-of", "2011-12-10"])
    assert text.exit_code == 0, text.output
    assert "Champions" in text.stdout and "Lifecycle thresholds (default)" in text.stdout


def test_cli_cohorts_json_table_and_chart(cli: CliRunner, tmp_path: Path) -> None:
    chart = tmp_path / "cohorts.png"
    result = cli.invoke(
        app, ["cohorts", "--as-of", "2011-12-10", "--metric", "revenue", "--chart", str(chart), "--json"]
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert (table["metric"], table["currency"]) == ("revenue", "GBP")
    assert sum(row["customers"] for row in table["cohorts"]) == 20
    assert table["cohorts"][-1]["cohort"] == "2011-12"
    assert chart.read_bytes()[:4] == b"\x89PNG"
    text = cli.invoke(app, ["cohorts", "--as-of", "2011-12-10"])
    assert text.exit_code == 0, text.output
    assert "2011-12" in text.stdout and "100%" in text.stdout
    bad = cli.invoke(app, ["cohorts", "--metric", "profit"])
    assert bad.exit_code == 2 and "profit" in bad.output


@pytest.mark.slow
def test_the_demo_analysis_of_the_real_shop_as_of_its_last_day(
    runtime: Runtime, shared_data: Path, tmp_path: Path
) -> None:
    from mailwright.cli.rfm import analyse_shop
    from mailwright.events.imports.online_retail import import_online_retail

    report = import_online_retail(runtime.uow, shared_data / "online_retail", limit_customers=300)
    with runtime.uow() as uow:
        last = max(o.placed_at for o in orders_service.list_orders(uow.session, limit=500))
    analysis = analyse_shop(runtime, last, tmp_path / "reports")
    assert analysis is not None
    summary = analysis.summary
    assert summary.customers_scored == report.customers == 300
    # As of midnight after the shop's last order day, not the machine's today.
    assert summary.computed_at == datetime.combine(
        last.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )
    assert summary.thresholds is not None and summary.thresholds.source == "learned"
    assert sum(r.customers for r in analysis.retention.cohorts) == 300
    assert analysis.retention.cohorts[0].cohort == "2010-12"
    html = analysis.report.read_text()
    assert "Champions" in html and "cohorts_retention_month.png" in html
    assert (analysis.report.parent / "rfm.png").is_file()
    assert analyse_shop(runtime, None, tmp_path / "nothing") is None
