import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from tests.predictions.shop import email_of, ingest, order_events
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    # A thin shop with its last orders just before AS_OF, committed where the CLI will read it.
    shop = Runtime(Settings(database_url=fresh_database_url, _env_file=None), clock=ManualClock(AS_OF))  # type: ignore[call-arg]
    ingest(shop, order_events(5, 60, AS_OF))
    shop.database.engine.dispose()
    # Each command closes its own connection pools when it ends (cli.app's root callback).
    yield CliRunner()


def test_train_then_explain_shows_models_fallbacks_and_lists(cli: CliRunner) -> None:
    before = cli.invoke(app, ["predict", "explain", email_of(0), "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["predictions"] is None

    trained = cli.invoke(app, ["predict", "train", "--as-of", "2026-03-01T00:00:00", "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    churn = next(m for m in summary["models"] if m["figure"] == "churn")
    assert (summary["contacts_scored"], churn["model"], churn["fallback"]) == (5, "recency_only", True)

    shown = cli.invoke(app, ["predict", "explain", email_of(0).upper(), "--json"])
    assert shown.exit_code == 0, shown.output
    explained = json.loads(shown.stdout)
    predictions = explained["predictions"]
    assert explained["email"] == email_of(0)
    assert predictions["computed_at"].startswith("2026-03-01T00:00:00")
    assert predictions["churn_model"] == "recency_only"
    assert predictions["fallbacks"]["churn"] == churn["reason"]
    kinds = {r["kind"] for r in explained["recommendations"]}
    assert "for_you" in kinds
    assert all(r["product"]["external_id"].startswith("p") for r in explained["recommendations"])

    text = cli.invoke(app, ["predict", "explain", email_of(0)])
    assert text.exit_code == 0 and "recency_only" in text.stdout

    # The profile carries the same predictions and lists.
    profile = cli.invoke(app, ["contacts", "show", email_of(0), "--json"])
    assert profile.exit_code == 0, profile.output
    assert json.loads(profile.stdout)["predictions"] == explained
    assert "recency_only" in cli.invoke(app, ["contacts", "show", email_of(0)]).stdout


def test_explain_an_unknown_address_fails_clearly(cli: CliRunner) -> None:
    result = cli.invoke(app, ["predict", "explain", "nobody@example.com", "--json"])
    assert result.exit_code == 1
    assert "no contact with email nobody@example.com" in result.output
