"""Deliverability health (daily rates and Gmail's thresholds) and `mailwright doctor`."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.tracking.conftest import FIXTURES, MakeContact
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.delivery import signing
from mailwright.delivery.models import OutboxMessage
from mailwright.tracking import health
from mailwright.tracking.models import BounceRecord


def _traffic(
    runtime: Runtime, contact_id: int, *, sent: int, hard: int, soft: int, sender: int, complaints: int
) -> None:
    """`sent` messages sent now, and bounces/complaints received now (as inbound would record them)."""
    with runtime.uow() as uow:
        now = uow.now()
        stamp = int(now.timestamp())
        uow.session.add_all(
            OutboxMessage(
                public_id=f"h{stamp}x{n:06d}",
                idempotency_key=f"health:{stamp}:{n}",
                contact_id=contact_id,
                to_address="x@example.com",
                template_name="newsletter",
                category="marketing",
                source_kind="campaign",
                context={},
                status="sent",
                send_at=now,
                attempts=1,
                links=[],
                sent_at=now,
                created_at=now,
                updated_at=now,
            )
            for n in range(sent)
        )
        kinds = ["hard"] * hard + ["soft"] * soft + ["sender"] * sender + ["complaint"] * complaints
        uow.session.add_all(
            BounceRecord(report_key=f"health:{stamp}:{i}", contact_id=contact_id, kind=kind, received_at=now)
            for i, kind in enumerate(kinds)
        )


@pytest.mark.parametrize(
    ("complaints", "hard", "status"),
    [
        (0, 0, "ok"),
        (1, 0, "warning"),
        (2, 0, "warning"),
        (3, 0, "critical"),
        (0, 20, "warning"),
        (0, 19, "ok"),
    ],
)
def test_thresholds_over_a_thousand_sends(
    runtime: Runtime, make_contact: MakeContact, complaints: int, hard: int, status: str
) -> None:
    contact = make_contact("health@example.com")
    _traffic(runtime, contact, sent=1000, hard=hard, soft=0, sender=0, complaints=complaints)
    with runtime.uow() as uow:
        report = health.deliverability(uow.session, now=uow.now(), days=1, settings=runtime.settings)
    assert report.sent == 1000 and report.complaints == complaints
    assert report.complaint_rate == pytest.approx(complaints / 1000)
    assert report.status == status
    if status != "ok":
        assert report.warnings


def test_daily_figures_and_the_api(
    runtime: Runtime, client: TestClient, admin_token: str, make_contact: MakeContact, clock: ManualClock
) -> None:
    contact = make_contact("daily@example.com")
    _traffic(runtime, contact, sent=200, hard=2, soft=3, sender=1, complaints=0)
    clock.advance(timedelta(days=1))
    _traffic(runtime, contact, sent=100, hard=0, soft=0, sender=0, complaints=1)
    response = client.get(
        "/api/v1/health/deliverability",
        params={"days": 3},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200
    body = response.json()
    days = {d["day"]: d for d in body["days"]}
    first = days[(clock.now() - timedelta(days=1)).date().isoformat()]
    assert (first["sent"], first["hard_bounces"], first["soft_bounces"], first["sender_bounces"]) == (
        200,
        2,
        3,
        1,
    )
    assert first["bounce_rate"] == pytest.approx(5 / 200)  # 5.7.x is the sender's problem: not a bounce rate
    assert first["warnings"]  # 2.5 % bounces
    second = days[clock.now().date().isoformat()]
    assert second["complaint_rate"] == pytest.approx(0.01) and second["warnings"]
    assert body["sent"] == 300 and body["status"] == "critical"
    assert client.get("/api/v1/health/deliverability").status_code == 401
    assert (
        client.get(
            "/api/v1/health/deliverability",
            params={"days": 0},
            headers={"Authorization": f"Bearer {admin_token}"},
        ).status_code
        == 422
    )


def test_health_cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MAILWRIGHT_DATABASE_URL", fresh_database_url.replace("postgresql://", "postgresql+psycopg://")
    )
    result = CliRunner().invoke(app, ["health", "--days", "7", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["days"]) == 7 and body["status"] == "ok" and body["sent"] == 0


def _doctor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> tuple[int, dict[str, object]]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", f"sqlite:///{tmp_path / 'doctor.db'}")
    for name, value in env.items():
        monkeypatch.setenv(f"MAILWRIGHT_{name.upper()}", value)
    result = CliRunner().invoke(app, ["doctor", "--offline", "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def good_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    private, _public = signing.generate_key(1024)
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    path.write_bytes(private)
    return path


@pytest.mark.nodb
def test_doctor_passes_with_an_aligned_setup_and_prints_the_records(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good_key: Path
) -> None:
    code, body = _doctor(
        monkeypatch,
        tmp_path,
        from_address="news@shop.example.co.uk",
        bounce_domain="bounces.shop.example.co.uk",
        dkim_domain="shop.example.co.uk",
        dkim_selector="mw2026",
        dkim_private_key_file=str(good_key),
    )
    assert code == 0, body
    records = body["records"]
    assert isinstance(records, dict)
    expected = signing.dns_txt_value(signing.public_key_der(good_key.read_bytes()))
    assert records["dkim"].startswith("mw2026._domainkey.shop.example.co.uk.") and expected in records["dkim"]
    assert records["spf"].startswith("bounces.shop.example.co.uk.") and "v=spf1" in records["spf"]
    assert records["dmarc"].startswith("_dmarc.example.co.uk.") and "v=DMARC1" in records["dmarc"]


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("env", "failing"),
    [
        ({"bounce_domain": "bounces.mailhost.net"}, "SPF alignment (return path)"),
        ({"dkim_domain": "esp.example.org"}, "DKIM alignment"),
        ({"dkim_private_key_file": "/nonexistent/dkim.pem"}, "DKIM key"),
        ({"dkim_private_key_file": str(FIXTURES / "weak_dkim_512.pem")}, "DKIM key"),
        ({"dkim_private_key_file": str(FIXTURES / "rfc3464_simple.eml")}, "DKIM key"),
    ],
)
def test_doctor_fails_on_each_broken_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, good_key: Path, env: dict[str, str], failing: str
) -> None:
    base = {
        "from_address": "news@shop.test",
        "bounce_domain": "bounces.shop.test",
        "dkim_domain": "shop.test",
        "dkim_selector": "s1",
        "dkim_private_key_file": str(good_key),
    }
    code, body = _doctor(monkeypatch, tmp_path, **{**base, **env})
    assert code == 1
    checks = body["checks"]
    assert isinstance(checks, list)
    assert [c["name"] for c in checks if not c["ok"]] == [failing]


@pytest.mark.nodb
def test_weak_key_is_reported_with_its_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, body = _doctor(
        monkeypatch,
        tmp_path,
        from_address="a@shop.test",
        bounce_domain="shop.test",
        dkim_domain="shop.test",
        dkim_selector="s1",
        dkim_private_key_file=str(FIXTURES / "weak_dkim_512.pem"),
    )
    checks = body["checks"]
    assert isinstance(checks, list)
    (key_check,) = [c for c in checks if c["name"] == "DKIM key"]
    assert "512 bits" in key_check["detail"]


@pytest.mark.nodb
def test_doctor_compares_the_published_dkim_record(good_key: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        from_address="news@shop.test",
        bounce_domain="bounces.shop.test",
        dkim_domain="shop.test",
        dkim_selector="s1",
        dkim_private_key_file=good_key,
    )
    published = signing.dns_txt_value(signing.public_key_der(good_key.read_bytes()))
    other_key = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDf"
    asked: list[str] = []

    def dns(answer: list[str] | None) -> "health.Resolver":
        def resolve(name: str) -> list[str] | None:
            asked.append(name)
            return answer

        return resolve

    def verdict(answer: list[str] | None) -> tuple[bool, str]:
        (check,) = [
            c for c in health.doctor(settings, resolve=dns(answer)).checks if c.name == "DKIM DNS record"
        ]
        return check.ok, check.detail

    # TXT records may arrive split in several strings and with spaces inside p=.
    assert verdict([published.replace("p=", "p= ")])[0] is True
    assert verdict([other_key]) == (
        False,
        "s1._domainkey.shop.test publishes another key: receivers will fail the signature",
    )
    assert verdict([])[0] is False
    assert verdict(None)[0] is True  # DNS unreachable: reported, not failed
    assert set(asked) == {"s1._domainkey.shop.test"}
