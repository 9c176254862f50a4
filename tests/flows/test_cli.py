"""`mailwright flows ...`: files as code in, JSON out, errors naming the node."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailwright.cli.app import app

FLOW_YAML = """
name: Cart nudge
description: One reminder two hours after a cart add.
definition:
  trigger: {type: event, event: Product Added}
  goals: [{event: Order Completed}]
  start: wait
  nodes:
    - {id: wait, type: wait, hours: 2, next: ordered}
    - id: ordered
      type: condition
      condition: {type: ordered_since_start}
      yes: done
      no: nudge
    - {id: nudge, type: send_email, template: abandoned_cart_1}
    - {id: done, type: exit}
"""


def test_flows_commands_from_a_yaml_file_to_runs(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    cli = CliRunner()
    assert cli.invoke(app, ["templates", "list", "--json"]).exit_code == 0  # installs the built-ins
    good = tmp_path / "cart.yaml"
    good.write_text(FLOW_YAML)
    checked = cli.invoke(app, ["flows", "validate", str(good), "--json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["ok"], checked.output
    created = cli.invoke(app, ["flows", "create", str(good), "--activate", "--json"])
    assert created.exit_code == 0, created.output
    flow = json.loads(created.stdout)
    # `yes:` and `no:` stay edge names (YAML 1.2 booleans only).
    assert flow["status"] == "active" and flow["definition"]["nodes"][1]["yes"] == "done"
    listed = json.loads(cli.invoke(app, ["flows", "list", "--json"]).stdout)
    assert [f["name"] for f in listed] == ["Cart nudge"]
    paused = json.loads(cli.invoke(app, ["flows", "pause", "Cart nudge", "--json"]).stdout)
    assert paused["status"] == "paused"
    assert json.loads(cli.invoke(app, ["flows", "runs", "Cart nudge", "--json"]).stdout) == []
    report = cli.invoke(
        app, ["flows", "backtest", "Cart nudge", "--from", "2026-01-01", "--to", "2026-01-03", "--json"]
    )
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["emails_per_node"] == [
        {"node_id": "nudge", "type": "send_email", "template": "abandoned_cart_1", "count": 0}
    ]

    broken = tmp_path / "broken.yaml"
    broken.write_text(FLOW_YAML.replace("next: ordered", "next: orderd"))
    refused = cli.invoke(app, ["flows", "validate", str(broken)])
    assert refused.exit_code == 1
    said = " ".join(refused.stdout.split())  # the console wraps long lines
    assert "nodes[0].next (node wait)" in said and "'orderd', which does not exist" in said
    saved = cli.invoke(app, ["flows", "create", str(broken)])
    assert saved.exit_code == 1 and "node wait" in " ".join(saved.output.split())
