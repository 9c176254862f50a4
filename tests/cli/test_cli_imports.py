import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailwright.cli.app import app

CSV = Path(__file__).parents[1] / "events" / "fixtures" / "csv"


@pytest.fixture
def cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    # Each command closes its own connection pools when it ends (cli.app's root callback).
    yield CliRunner()


def test_import_customers_json_then_show_the_contact(cli: CliRunner) -> None:
    result = cli.invoke(app, ["import", "customers", str(CSV / "customers.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["kind"], report["records"], report["imported"], report["rejected"]) == (
        "customers",
        4,
        4,
        [],
    )
    shown = cli.invoke(app, ["contacts", "show", "ANN@example.com", "--json"])
    assert shown.exit_code == 0, shown.output
    contact = json.loads(shown.stdout)["contact"]
    assert (contact["email"], contact["first_name"], contact["country"], contact["consent_status"]) == (
        "ann@example.com",
        "Ann",
        "GB",
        "subscribed",
    )
    again = json.loads(cli.invoke(app, ["import", "customers", str(CSV / "customers.csv"), "--json"]).stdout)
    assert (again["imported"], again["unchanged"]) == (0, 4)


def test_rejected_rows_are_listed_and_the_exit_status_says_so(cli: CliRunner) -> None:
    result = cli.invoke(app, ["import", "products", str(CSV / "products.csv"), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["imported"] == 3
    assert [(r["line"], r["column"]) for r in report["rejected"]] == [
        (5, "price"),
        (6, "price"),
        (7, "id"),
        (8, "in_stock"),
        (9, "currency"),
    ]
    table = cli.invoke(app, ["import", "products", str(CSV / "products.csv")])
    assert "Rejected rows" in table.stdout and "unknown currency 'ZZZ'" in table.stdout


def test_map_option_and_dry_run(cli: CliRunner) -> None:
    args = ["import", "customers", str(CSV / "customers_mapped.csv"), "--map", "email=E-mail"]
    dry = cli.invoke(app, [*args, "--map", "first_name=Given name", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["records"] == 2
    assert cli.invoke(app, ["contacts", "show", "mapped@example.com"]).exit_code == 1
    done = cli.invoke(app, [*args, "--map", "first_name=Given name", "--json"])
    assert json.loads(done.stdout)["imported"] == 2
    contact = json.loads(cli.invoke(app, ["contacts", "show", "mapped@example.com", "--json"]).stdout)
    assert contact["contact"]["first_name"] == "Mia"


def test_bad_map_option_is_a_clear_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["import", "customers", str(CSV / "customers.csv"), "--map", "email"])
    assert result.exit_code == 1
    assert "field=Column Header" in result.stderr


def test_demo_builds_its_own_database_and_summarises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["demo", "--data", str(shared_data / "online_retail"), "--limit-customers", "50", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["database"] == "sqlite:///var/demo.db"
    assert (tmp_path / "var" / "demo.db").is_file()
    overview = summary["overview"]
    assert (overview["customers"], overview["orders"], overview["currency"]) == (50, 143, "GBP")
    assert overview["example_email"] == "customer-12347@example.com"
    assert "contacts show customer-12347@example.com" in summary["next"]
    # A second run starts from a fresh file, not on top of the first.
    again = json.loads(runner.invoke(app, args).stdout)
    assert again["import"]["events_unchanged"] == 0 and again["overview"]["orders"] == 143
    text = runner.invoke(app, args[:-1])
    assert "Top countries by revenue" in text.stdout and "£" in text.stdout


def test_demo_without_data_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--data", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no Online Retail data" in result.stderr
