import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailwright.cli.app import app

CSV = Path(__file__).parents[1] / "events" / "fixtures" / "csv"


def test_preview_renders_what_that_contact_would_get(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    cli = CliRunner()
    imported = cli.invoke(app, ["import", "customers", str(CSV / "customers.csv"), "--json"])
    assert imported.exit_code in (0, 1), imported.output  # the fixture has deliberately broken rows
    shown = cli.invoke(app, ["contacts", "show", "ann@example.com", "--json"])
    assert shown.exit_code == 0, shown.output
    first_name = json.loads(shown.stdout)["contact"]["first_name"]

    event = tmp_path / "cart.json"
    event.write_text(
        json.dumps(
            {
                "products": [
                    {
                        "product_id": "mug-1",
                        "name": "Teal <b>Mug</b>",
                        "price": 12.5,
                        "quantity": 2,
                        "image_url": "https://shop.test/mug.png",
                        "url": "https://shop.test/mug",
                    }
                ],
                "checkout_url": "https://shop.test/cart",
            }
        )
    )
    out = tmp_path / "preview.html"
    result = cli.invoke(
        app,
        [
            "templates",
            "preview",
            "abandoned_cart_1",
            "--contact",
            "ann@example.com",
            "--event-file",
            str(event),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert first_name in html
    assert "Teal &lt;b&gt;Mug&lt;/b&gt;" in html  # the product name is escaped, not markup
    assert "https://shop.test/cart" in html
    assert "unsubscribe" in html.lower()

    sampled = cli.invoke(
        app,
        [
            "templates",
            "preview",
            "abandoned_cart_1",
            "--contact",
            "ann@example.com",
            "--out",
            str(tmp_path / "sample.html"),
        ],
    )
    assert sampled.exit_code == 0, sampled.output
    assert "sample trigger event" in sampled.output and first_name in (tmp_path / "sample.html").read_text()

    missing = cli.invoke(
        app,
        ["templates", "preview", "abandoned_cart_1", "--contact", "nobody@example.com", "--out", str(out)],
    )
    assert missing.exit_code != 0
    assert "nobody@example.com" in missing.output


def test_coupon_codes_uploaded_once_and_counted(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    cli = CliRunner()
    codes = tmp_path / "codes.txt"
    codes.write_text("SAVE-1\nSAVE-2\n\nSAVE-2\nSAVE-3\n")
    first = cli.invoke(app, ["templates", "coupons", "winback", str(codes), "--json"])
    again = cli.invoke(app, ["templates", "coupons", "winback", str(codes), "--json"])
    shown = cli.invoke(app, ["templates", "coupons", "winback", "--json"])
    assert first.exit_code == again.exit_code == shown.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"pool": "winback", "added": 3, "remaining": 3}
    assert json.loads(again.stdout)["added"] == 0
    assert json.loads(shown.stdout)["remaining"] == 3
