"""The segments API and CLI: create, preview, list, show, members, refresh, delete, with --json."""

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.segments.shop import Shop, build_scenario_shop
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.runtime import Runtime

SUBSCRIBED = {"version": 1, "root": {"type": "consent", "statuses": ["subscribed"]}}
GB = {"version": 1, "root": {"type": "location", "field": "country", "values": ["GB"]}}


def test_the_api_creates_previews_lists_and_pages_members(
    runtime: Runtime, client: TestClient, admin_token: str
) -> None:
    shop: Shop = build_scenario_shop(runtime)
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert client.get("/api/v1/segments").status_code == 401

    preview = client.post(
        "/api/v1/segments/preview", headers=auth, json={"definition": SUBSCRIBED, "sample": 5}
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["count"] == 2
    assert {m["email"] for m in body["sample"]} == {"ann@example.com", "eve@example.com"}
    assert [w["code"] for w in body["warnings"]] == ["too_small"]

    created = client.post(
        "/api/v1/segments", headers=auth, json={"name": "Subscribers", "definition": SUBSCRIBED}
    )
    assert created.status_code == 201, created.text
    segment = created.json()["segment"]
    assert segment["member_count"] == 2 and segment["definition"] == SUBSCRIBED
    again = client.post("/api/v1/segments", headers=auth, json={"name": "Subscribers", "definition": GB})
    assert again.status_code == 409 and again.json()["field"] == "name"

    listed = client.get("/api/v1/segments", headers=auth).json()
    names = {s["name"] for s in listed}
    assert "Subscribers" in names and "VIP" in names  # built-ins are there too

    by_name = client.get("/api/v1/segments/Subscribers", headers=auth).json()
    assert by_name["id"] == segment["id"]
    page = client.get(f"/api/v1/segments/{segment['id']}/members?limit=1", headers=auth).json()
    assert page["total"] == 2 and len(page["members"]) == 1
    rest = client.get(f"/api/v1/segments/{segment['id']}/members?limit=1&offset=1", headers=auth).json()
    assert {page["members"][0]["email"], rest["members"][0]["email"]} == {
        "ann@example.com",
        "eve@example.com",
    }

    changed = client.patch(f"/api/v1/segments/{segment['id']}", headers=auth, json={"definition": GB})
    assert changed.status_code == 200, changed.text
    assert changed.json()["segment"]["member_count"] == 1
    refreshed = client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=auth).json()
    assert refreshed["segments"][0]["members"] == 1
    everything = client.post("/api/v1/segments/refresh", headers=auth)
    assert everything.status_code == 200 and len(everything.json()["segments"]) >= 12
    assert shop.members_of(segment["id"]) == {"ann"}

    assert client.get("/api/v1/segments/404404", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/segments/{segment['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/segments/{segment['id']}", headers=auth).status_code == 404


def invoke(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_the_cli_lists_creates_previews_shows_and_refreshes(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    cli = CliRunner()
    csv = tmp_path / "customers.csv"
    csv.write_text("email,first_name,country\nann@example.com,Ann,GB\nbob@example.com,Bob,DE\n")
    imported = cli.invoke(app, ["import", "customers", str(csv), "--json"])
    assert imported.exit_code == 0, imported.output

    listed = invoke(cli, "segments", "list", "--json")
    assert {s["builtin"] for s in listed} >= {"vip", "abandoned_cart", "never_purchased"}

    definition = tmp_path / "gb.json"
    definition.write_text(json.dumps(GB))
    preview = invoke(cli, "segments", "preview", "--file", str(definition), "--json")
    assert preview["count"] == 1 and preview["sample"][0]["email"] == "ann@example.com"
    assert invoke(cli, "segments", "list", "--json") == listed  # the preview saved nothing
    text = invoke(cli, "segments", "preview", "--file", str(definition))
    assert "1 contact(s) match" in text and "ann@example.com" in text and "too_small" in text

    created = invoke(cli, "segments", "create", "--file", str(definition), "--name", "British", "--json")
    assert created["segment"]["member_count"] == 1
    shown = invoke(cli, "segments", "show", "British", "--json")
    assert [m["email"] for m in shown["members"]["members"]] == ["ann@example.com"]
    assert "British" in invoke(cli, "segments", "show", "British")

    refreshed = invoke(cli, "segments", "refresh", "--json")
    never = next(s for s in refreshed["segments"] if s["name"] == "Never purchased")
    assert never["members"] == 2
    assert "British" in invoke(cli, "segments", "refresh", "British")

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"version": 1, "root": {"type": "property", "field": "email", "operator": "gt", "value": 1}}
        )
    )
    refused = cli.invoke(app, ["segments", "create", "--file", str(bad), "--name", "Bad"])
    assert refused.exit_code == 1
    assert "root.operator" in refused.output
