"""Deliverability health: daily bounce and complaint rates, and `doctor`'s checks of DKIM, alignment, DNS.

Rates are per day of sending (UTC): bounces and complaints received that day over messages sent that
day. Gmail's sender guidelines ask bulk senders to keep spam complaints under 0.1 % and never reach
0.3 %; those are the warning and critical thresholds (settings `complaint_rate_warning` and
`complaint_rate_critical`), next to a bounce-rate warning (`bounce_rate_warning`, 2 %).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import dns.exception
import dns.resolver
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailwright.core.errors import InvalidInput
from mailwright.core.settings import Settings
from mailwright.delivery import signing
from mailwright.delivery.models import OutboxMessage
from mailwright.tracking.models import BounceRecord

MIN_DKIM_BITS = 1024
# Second-level labels under which registrations happen (co.uk, com.au, ...): enough for the alignment
# check's organizational domain without shipping the whole Public Suffix List.
_SECOND_LEVEL = frozenset(
    {"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gv", "ltd", "plc"}
)


@dataclass(frozen=True)
class DayHealth:
    """One day's sends, bounces, complaints and their rates."""

    day: str
    sent: int
    hard_bounces: int
    soft_bounces: int
    sender_bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class HealthReport:
    """Daily figures over a window and the whole window's totals and warnings."""

    days: list[DayHealth]
    sent: int
    bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    status: str  # ok | warning | critical
    warnings: tuple[str, ...]


def _warnings(sent: int, bounces: int, complaints: int, settings: Settings) -> tuple[list[str], str]:
    found: list[str] = []
    status = "ok"
    if sent == 0:
        return found, status
    complaint_rate, bounce_rate = complaints / sent, bounces / sent
    if complaint_rate >= settings.complaint_rate_critical:
        found.append(
            f"complaint rate {complaint_rate:.2%} is at or above {settings.complaint_rate_critical:.1%}: "
            "mailbox providers will filter or block this sender"
        )
        status = "critical"
    elif complaint_rate >= settings.complaint_rate_warning:
        found.append(
            f"complaint rate {complaint_rate:.2%} is at or above {settings.complaint_rate_warning:.1%} "
            "(Gmail's guideline): send only to engaged contacts"
        )
        status = "warning"
    if bounce_rate >= settings.bounce_rate_warning:
        found.append(
            f"bounce rate {bounce_rate:.2%} is at or above {settings.bounce_rate_warning:.1%}: clean the list"
        )
        status = "critical" if status == "critical" else "warning"
    return found, status


def deliverability(session: Session, *, now: datetime, days: int, settings: Settings) -> HealthReport:
    """Bounce and complaint rates for each of the last `days` days (today included) and in total."""
    if days < 1 or days > 366:
        raise InvalidInput("days must be between 1 and 366", field="days")
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows: list[DayHealth] = []
    totals = {"sent": 0, "bounces": 0, "complaints": 0}
    for back in range(days - 1, -1, -1):
        start = today - timedelta(days=back)
        end = start + timedelta(days=1)
        sent = int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at >= start, OutboxMessage.sent_at < end)
            )
            or 0
        )
        kinds = dict(
            session.execute(
                select(BounceRecord.kind, func.count())
                .where(BounceRecord.received_at >= start, BounceRecord.received_at < end)
                .group_by(BounceRecord.kind)
            ).all()
        )
        hard, soft = int(kinds.get("hard", 0)), int(kinds.get("soft", 0))
        sender, complaints = int(kinds.get("sender", 0)), int(kinds.get("complaint", 0))
        bounces = hard + soft
        warnings, _ = _warnings(sent, bounces, complaints, settings)
        rows.append(
            DayHealth(
                day=start.date().isoformat(),
                sent=sent,
                hard_bounces=hard,
                soft_bounces=soft,
                sender_bounces=sender,
                complaints=complaints,
                bounce_rate=bounces / sent if sent else 0.0,
                complaint_rate=complaints / sent if sent else 0.0,
                warnings=tuple(warnings),
            )
        )
        totals["sent"] += sent
        totals["bounces"] += bounces
        totals["complaints"] += complaints
    warnings, status = _warnings(totals["sent"], totals["bounces"], totals["complaints"], settings)
    if any(day.warnings for day in rows) and status == "ok":
        status = "warning"
        warnings.append("at least one day crossed a threshold (see the daily figures)")
    sent = totals["sent"]
    return HealthReport(
        days=rows,
        sent=sent,
        bounces=totals["bounces"],
        complaints=totals["complaints"],
        bounce_rate=totals["bounces"] / sent if sent else 0.0,
        complaint_rate=totals["complaints"] / sent if sent else 0.0,
        status=status,
        warnings=tuple(warnings),
    )


# --- doctor ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check of `mailwright doctor`: passed or not, and why."""

    name: str
    ok: bool
    detail: str


@dataclass
class DoctorReport:
    """Every check, and the DNS records the shop should publish."""

    checks: list[Check] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)


def organizational_domain(domain: str) -> str:
    """The registrable domain (example.co.uk for mail.example.co.uk), for DMARC relaxed alignment."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(a: str, b: str) -> bool:
    """DMARC relaxed alignment: both domains share one organizational domain."""
    return organizational_domain(a) == organizational_domain(b)


Resolver = Callable[[str], list[str] | None]


def dns_txt(name: str, *, timeout: float = 3.0) -> list[str] | None:
    """The TXT strings published at a name ([] when it has none), or None when DNS cannot be reached."""
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException:
        return None
    return [b"".join(record.strings).decode("ascii", "replace") for record in answer]


def doctor(settings: Settings, *, resolve: Resolver | None = None) -> DoctorReport:
    """Check the DKIM key against selector and domain, From/DKIM/bounce alignment; print the DNS records.

    With `resolve` (a TXT lookup), the published DKIM record is compared with the key too.
    """
    report = DoctorReport()
    from_domain = settings.from_address.rpartition("@")[2].lower()
    dkim_domain = (settings.dkim_domain or "").lower()
    bounce_domain = settings.bounce_domain.lower()
    report.checks.append(
        Check("from address", bool(from_domain) and "." in from_domain, f"From: {settings.from_address}")
    )
    _check_dkim(settings, report, resolve)
    if dkim_domain:
        ok = aligned(from_domain, dkim_domain)
        report.checks.append(
            Check(
                "DKIM alignment",
                ok,
                f"From domain {from_domain} and DKIM d={dkim_domain} "
                + ("share" if ok else "do not share")
                + f" the organizational domain ({organizational_domain(from_domain)})",
            )
        )
    ok = aligned(from_domain, bounce_domain)
    report.checks.append(
        Check(
            "SPF alignment (return path)",
            ok,
            f"From domain {from_domain} and the VERP/bounce domain {bounce_domain} "
            + ("are aligned (relaxed)" if ok else "are not aligned: SPF cannot pass DMARC"),
        )
    )
    report.records["spf"] = (
        f'{bounce_domain}. IN TXT "v=spf1 a mx -all"  '
        "(add ip4:/include: for every server or relay that sends for you)"
    )
    report.records["dmarc"] = (
        f"_dmarc.{organizational_domain(from_domain)}. IN TXT "
        f'"v=DMARC1; p=none; rua=mailto:dmarc-reports@{organizational_domain(from_domain)}; adkim=r; aspf=r"'
        "  (move to p=quarantine, then p=reject, once reports show every source passes)"
    )
    report.records["mx"] = f"{bounce_domain}. IN MX 10 <the host running `mailwright inbound`>."
    return report


def _check_dkim(settings: Settings, report: DoctorReport, resolve: Resolver | None) -> None:
    selector, domain, path = settings.dkim_selector, settings.dkim_domain, settings.dkim_private_key_file
    if not (selector and domain and path):
        report.checks.append(
            Check(
                "DKIM key",
                False,
                "set dkim_selector, dkim_domain and dkim_private_key_file (mailwright dkim keygen makes a key)",
            )
        )
        return
    try:
        key = signing.load_key(selector, domain, Path(path))
        parsed = dkim.crypto.parse_pem_private_key(key.private_pem)
    except InvalidInput as exc:
        report.checks.append(Check("DKIM key", False, exc.message))
        return
    except Exception as exc:  # dkimpy raises several types for an unreadable key
        report.checks.append(Check("DKIM key", False, f"{path} does not parse as an RSA private key: {exc}"))
        return
    bits = int(parsed["modulus"]).bit_length()
    report.checks.append(
        Check(
            "DKIM key",
            bits >= MIN_DKIM_BITS,
            f"{path}: RSA {bits} bits"
            + ("" if bits >= MIN_DKIM_BITS else f" (below {MIN_DKIM_BITS}: receivers ignore it)"),
        )
    )
    public = signing.public_key_der(key.private_pem)
    report.records["dkim"] = signing.dns_record(selector, domain, public)
    if resolve is not None:
        _check_published(report, f"{selector}._domainkey.{domain}", signing.dns_txt_value(public), resolve)


def _published_key(record: str) -> str | None:
    tags = dict(part.strip().partition("=")[::2] for part in record.split(";") if "=" in part)
    return "".join(tags.get("p", "").split()) or None


def _check_published(report: DoctorReport, name: str, expected: str, resolve: Resolver) -> None:
    found = resolve(name)
    if found is None:
        report.checks.append(
            Check("DKIM DNS record", True, f"DNS unreachable: {name} not checked (publish it)")
        )
        return
    wanted = _published_key(expected)
    published = [_published_key(text) for text in found if "p=" in text]
    if not published:
        report.checks.append(Check("DKIM DNS record", False, f"no DKIM record published at {name}"))
    elif wanted in published:
        report.checks.append(Check("DKIM DNS record", True, f"{name} publishes this key"))
    else:
        report.checks.append(
            Check(
                "DKIM DNS record", False, f"{name} publishes another key: receivers will fail the signature"
            )
        )
