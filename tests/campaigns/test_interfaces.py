"""The API and the CLI: create, schedule, show, cancel and list campaigns, and errors that name the field."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.campaigns.shop import Shop
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.clock import ManualClock


def test_the_api_creates_schedules_shows_and_cancels(
    client: TestClient, admin_token: str, shop: Shop, clock: ManualClock
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    news = shop.segment("news")
    shop.people("p", 4)
    assert client.get("/api/v1/campaigns").status_code == 401
    created = client.post(
        "/api/v1/campaigns",
        headers=auth,
        json={
            "name": "Autumn sale",
            "template_name": "campaign_test",
            "segment_ids": [news],
            "ab_test": {"variants": [{"name": "A"}, {"name": "B", "subject_variant": 1}], "metric": "clicks"},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft" and body["winner_metric"] == "clicks"
    renamed = client.patch(
        f"/api/v1/campaigns/{body['id']}", headers=auth, json={"name": "Autumn sale", "remove_ab_test": True}
    )
    assert renamed.status_code == 200 and renamed.json()["variants"] == []
    later = (clock.now().replace(hour=12)).isoformat()
    scheduled = client.post(
        f"/api/v1/campaigns/{body['id']}/schedule",
        headers=auth,
        json={"kind": "local_time", "local_time": "10:00", "at": later, "throttle_per_hour": 1000},
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled" and scheduled.json()["local_time"] == "10:00"
    shown = client.get("/api/v1/campaigns/Autumn sale", headers=auth).json()
    assert shown["id"] == body["id"] and shown["progress"]["recipients"] == 0
    assert [c["name"] for c in client.get("/api/v1/campaigns", headers=auth).json()] == ["Autumn sale"]
    cancelled = client.post(f"/api/v1/campaigns/{body['id']}/cancel", headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/campaigns/{body['id']}/cancel", headers=auth)
    assert again.status_code == 409 and again.json()["field"] == "status"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"template_name": "no_such_template"}, 404, "template_name"),
        ({"segment_ids": [424242]}, 404, "segment_ids[0]"),
        ({"segment_ids": []}, 422, "segment_ids"),
        ({"ab_test": {"variants": [{"name": "A"}, {"name": "A"}]}}, 422, "ab_test.variants"),
        (
            {
                "ab_test": {
                    "variants": [{"name": "A"}, {"name": "B", "subject_variant": 1}],
                    "test_share": 1.5,
                }
            },
            422,
            "ab_test.test_share",
        ),
        ({"ab_test": {"variants": [{"name": "A"}, {"name": "B", "subject_variant": 5}]}}, 400, None),
        ({"schedule": {"kind": "local_time"}}, 422, "schedule"),
        ({"schedule": {"at": "2026-11-03T10:00:00"}}, 422, "schedule.at"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient,
    admin_token: str,
    shop: Shop,
    change: dict[str, object],
    status: int,
    field: str | None,
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    news = shop.segment("news")
    body = {"name": "x", "template_name": "campaign_test", "segment_ids": [news], **change}
    refused = client.post("/api/v1/campaigns", headers=auth, json=body)
    assert refused.status_code == status, refused.text
    problem = refused.json()
    if field is None:
        assert problem["field"].endswith("subject_variant")
    else:
        assert problem["field"] == field
    assert client.get("/api/v1/campaigns", headers=auth).json() == []


def test_the_cli_creates_schedules_runs_and_shows(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("MAILWRIGHT_SENDER", "fake")
    cli = CliRunner()
    assert cli.invoke(app, ["templates", "list", "--json"]).exit_code == 0  # installs the built-ins
    definition = tmp_path / "everyone.json"
    definition.write_text(
        json.dumps(
            {"version": 1, "root": {"type": "consent", "statuses": ["subscribed", "never_subscribed"]}}
        )
    )
    made = cli.invoke(app, ["segments", "create", "--file", str(definition), "--name", "everyone", "--json"])
    assert made.exit_code == 0, made.output

    created = cli.invoke(
        app,
        [
            "campaigns",
            "create",
            "November news",
            "--template",
            "newsletter",
            "--segment",
            "everyone",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    campaign = json.loads(created.stdout)
    assert campaign["status"] == "draft" and campaign["template_name"] == "newsletter"

    missing = cli.invoke(app, ["campaigns", "create", "x", "--template", "newsletter", "--segment", "nope"])
    assert missing.exit_code == 1 and "--segment" in missing.output

    later = cli.invoke(
        app, ["campaigns", "schedule", "November news", "--at", "2030-01-01T08:00:00Z", "--json"]
    )
    assert later.exit_code == 0, later.output
    assert json.loads(later.stdout)["scheduled_at"].startswith("2030-01-01T08:00:00")
    bad = cli.invoke(app, ["campaigns", "schedule", "November news", "--at", "next tuesday"])
    assert bad.exit_code == 1 and "--at" in bad.output
    scheduled = cli.invoke(
        app, ["campaigns", "schedule", "November news", "--best-hour", "--throttle", "500", "--json"]
    )
    assert scheduled.exit_code == 0, scheduled.output
    assert json.loads(scheduled.stdout)["schedule_kind"] == "best_hour"
    ran = cli.invoke(app, ["campaigns", "run-due", "--json"])
    assert ran.exit_code == 0, ran.output
    assert [r["campaign_id"] for r in json.loads(ran.stdout)["started"]] == [campaign["id"]]

    shown = cli.invoke(app, ["campaigns", "show", str(campaign["id"]), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["status"] == "sent"  # an empty shop: nobody to queue, done at once
    listed = cli.invoke(app, ["campaigns", "list", "--json"])
    assert [c["name"] for c in json.loads(listed.stdout)] == ["November news"]
    text = cli.invoke(app, ["campaigns", "show", "November news"])
    assert "best_hour" in text.output and "sent" in text.output
    refused = cli.invoke(app, ["campaigns", "cancel", "November news"])
    assert refused.exit_code == 1 and "cannot be cancelled" in refused.output
