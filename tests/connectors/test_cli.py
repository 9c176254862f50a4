"""`mailwright connect ...` and `mailwright webhooks ...` as a user runs them."""

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from mailwright.cli.app import app


@pytest.fixture
def cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    yield CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def test_connect_woocommerce_dry_run_then_save_then_sync_reports_the_error(cli: CliRunner) -> None:
    args = [
        "connect",
        "woocommerce",
        "shop",
        "--url",
        "https://shop.example.com",
        "--consumer-key",
        "ck_1234567890",
        "--consumer-secret",
        "cs_abcdefghijkl",
        "--webhook-secret",
        "whsecret-0123456789",
    ]
    dry = json.loads(run(cli, *args, "--dry-run", "--json"))
    assert dry["dry_run"] and dry["config"]["consumer_secret"] == "****ijkl"
    assert json.loads(run(cli, "connect", "list", "--json")) == []
    saved = run(cli, *args)
    assert "/webhooks/woocommerce/shop" in saved
    [listed] = json.loads(run(cli, "connect", "list", "--json"))
    assert listed["name"] == "shop" and listed["config"]["consumer_key"] == "****7890"
    missing = cli.invoke(app, ["connect", "magento", "m2", "--url", "https://m2.example.com"])
    assert missing.exit_code == 1 and "config.token" in missing.output
    # No machine here reaches the shop: the sync says so and keeps the error on the connection.
    out = run(cli, "connect", "sync", "shop", "--json", code=1)
    assert "unreachable" in json.loads(out)["error"]
    shown = json.loads(run(cli, "connect", "show", "shop", "--json"))
    assert "unreachable" in shown["connection"]["last_error"]


def test_connect_hubspot_shows_the_mapping_and_waits_for_confirmation(cli: CliRunner) -> None:
    out = run(
        cli,
        "connect",
        "hubspot",
        "crm",
        "--token",
        "pat-na1-0000",
        "--map-push",
        "rfm_segment=shop_rfm",
        "--map-pull",
        "lifecyclestage=",
    )
    assert "Field mapping" in out and "shop_rfm" in out and "lifecyclestage" not in out
    refused = cli.invoke(app, ["connect", "sync", "crm"])
    assert refused.exit_code == 1 and "confirm" in refused.output
    bad = cli.invoke(app, ["connect", "hubspot", "crm2", "--token", "x", "--map-pull", "firstname=nickname"])
    assert bad.exit_code == 1 and "field_mapping.pull.firstname" in bad.output
    run(cli, "connect", "confirm", "crm")
    shown = json.loads(run(cli, "connect", "show", "crm", "--json"))
    assert shown["connection"]["mapping_confirmed_at"] is not None
    assert {"direction": "push", "crm_property": "shop_rfm", "mailwright_field": "rfm_segment"} in shown[
        "mapping"
    ]


def test_webhooks_add_list_log(cli: CliRunner) -> None:
    bad = cli.invoke(app, ["webhooks", "add", "https://hooks.example.com/mw", "--event", "Email Exploded"])
    assert bad.exit_code == 1 and "(events)" in bad.output
    added = json.loads(
        run(
            cli,
            "webhooks",
            "add",
            "https://hooks.example.com/mw",
            "--event",
            "Email Clicked",
            "--event",
            "Segment Entered",
            "--json",
        )
    )
    assert added["secret"].startswith("whsec_")
    [listed] = json.loads(run(cli, "webhooks", "list", "--json"))
    assert listed["event_names"] == ["Email Clicked", "Segment Entered"] and listed["secret"] is None
    log = json.loads(run(cli, "webhooks", "log", str(added["id"]), "--json"))
    assert log["deliveries"] == [] and log["endpoint"]["enabled"]
    assert "disabled" in run(cli, "webhooks", "disable", str(added["id"]))
    assert cli.invoke(app, ["webhooks", "log", "999"]).exit_code == 1
