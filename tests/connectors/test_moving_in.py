"""Moving in from Mailchimp and Klaviyo: consent and its date kept, unsubscribes and bounces never undone."""

import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from tests.conftest import START
from typer.testing import CliRunner

from mailwright.cli.app import app
from mailwright.connectors import klaviyo, mailchimp
from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mailchimp_zip(tmp_path: Path) -> Path:
    path = tmp_path / "audience_export_3f2a1b9c.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for csv in sorted((FIXTURES / "mailchimp").glob("*.csv")):
            archive.write(csv, arcname=f"audience_export/{csv.name}")
    return path


def _status(session: Session, email: str) -> tuple[str, datetime | None]:
    profile = contacts.find_by_email(session, email)
    assert profile is not None, email
    return profile.consent_status, profile.consent_updated_at


def test_mailchimp_zip_keeps_each_status_and_date(
    runtime: Runtime, session: Session, mailchimp_zip: Path
) -> None:
    # Someone who subscribed here long ago and unsubscribed at Mailchimp since stays unsubscribed.
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="old-signup",
                    type="identify",
                    name="Identify",
                    occurred_at=START,
                    source="api",
                    email="cleo.martin@example.com",
                    consent="subscribed",
                    consent_at=datetime(2023, 1, 1, tzinfo=UTC),
                )
            ],
        )
    report = mailchimp.import_export(mailchimp_zip, runtime.uow, now=START)
    assert sorted(report.files) == [
        "cleaned_members_export_3f2a1b9c.csv",
        "subscribed_members_export_3f2a1b9c.csv",
        "unsubscribed_members_export_3f2a1b9c.csv",
    ]
    assert (report.rows, report.people, report.subscribed, report.unsubscribed, report.suppressed) == (
        7,
        5,
        2,
        2,
        1,
    )
    assert [(r.line, r.column) for r in report.rejected] == [(5, "Email Address")]

    assert _status(session, "ann.lee@example.com") == (
        "subscribed",
        datetime(2025, 3, 1, 10, 5, 12, tzinfo=UTC),
    )
    assert _status(session, "cleo.martin@example.com") == (
        "unsubscribed",
        datetime(2025, 6, 10, 18, 30, tzinfo=UTC),
    )
    # In the subscribed list and the unsubscribed list: the unsubscribe wins.
    assert _status(session, "was.unsubscribed@example.com")[0] == "unsubscribed"
    assert contacts.is_suppressed(session, "dead.box@example.com")
    assert _status(session, "dead.box@example.com")[0] != "subscribed"
    ann = contacts.find_by_email(session, "ann.lee@example.com")
    assert ann is not None and (ann.first_name, ann.country, ann.properties["mailchimp_member_rating"]) == (
        "Ann",
        "GB",
        4,
    )

    again = mailchimp.import_export(mailchimp_zip, runtime.uow, now=START)
    assert (again.imported, again.unchanged) == (0, 5)


def test_klaviyo_export_maps_consent_and_suppressions(runtime: Runtime, session: Session) -> None:
    report = klaviyo.import_export(FIXTURES / "klaviyo" / "profiles.csv", runtime.uow, now=START)
    assert (report.subscribed, report.unsubscribed, report.suppressed, report.never_subscribed) == (
        1,
        1,
        2,
        1,
    )
    assert [(r.line, r.column) for r in report.rejected] == [(7, "Email Marketing Consent")]
    assert _status(session, "eve.adams@example.com") == ("subscribed", datetime(2025, 5, 1, 12, tzinfo=UTC))
    assert _status(session, "finn.o@example.com") == ("unsubscribed", datetime(2025, 7, 15, 8, tzinfo=UTC))
    assert contacts.is_suppressed(session, "gus.b@example.com")
    assert contacts.suppression_reason(session, "hana.s@example.com") == "complaint"
    # Subscribed there but bounced: suppressed, and not made subscribed here.
    assert _status(session, "gus.b@example.com")[0] == "never_subscribed"
    assert _status(session, "ivy.n@example.com")[0] == "never_subscribed"
    eve = contacts.find_by_email(session, "eve.adams@example.com")
    assert eve is not None and (eve.city, eve.country, eve.phone) == ("Boston", "US", "+15555550101")


@pytest.fixture
def cli(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MAILWRIGHT_DATABASE_URL", fresh_database_url)
    yield CliRunner()


def test_cli_import_mailchimp_dry_run_then_for_real(cli: CliRunner, mailchimp_zip: Path) -> None:
    dry = cli.invoke(app, ["import", "mailchimp", str(mailchimp_zip), "--dry-run", "--json"])
    assert dry.exit_code == 1  # one row was refused
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["imported"] == 0 and report["people"] == 5
    shown = cli.invoke(app, ["contacts", "show", "ann.lee@example.com", "--json"])
    assert shown.exit_code == 1  # nothing was written
    real = cli.invoke(app, ["import", "mailchimp", str(mailchimp_zip)])
    assert "2 unsubscribed" in real.stdout and "1 suppressed" in real.stdout
    contact = json.loads(cli.invoke(app, ["contacts", "show", "cleo.martin@example.com", "--json"]).stdout)[
        "contact"
    ]
    assert contact["consent_status"] == "unsubscribed"
    klav = cli.invoke(app, ["import", "klaviyo", str(FIXTURES / "klaviyo" / "profiles.csv"), "--json"])
    assert json.loads(klav.stdout)["subscribed"] == 1
