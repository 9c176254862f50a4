"""Send-time guards: may this message go to this contact now, later, or never?

Checked when the message is about to be sent, not when it was queued (DESIGN.md invariant 3): an
unsubscribe, a complaint or a pause that arrived in between must win.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailwright.core.settings import Settings

MARKETING = "marketing"
TRANSACTIONAL = "transactional"
CATEGORIES = (MARKETING, TRANSACTIONAL)

# Skip reasons, as stored in outbox_messages.skip_reason.
NO_CONTACT = "contact_missing"
MERGED = "contact_merged"
NO_ADDRESS = "no_address"
SUPPRESSED = "suppressed"
UNSUBSCRIBED = "unsubscribed"
PENDING_CONFIRMATION = "pending_confirmation"
NO_CONSENT = "no_consent"
TOPIC_UNSUBSCRIBED = "topic_unsubscribed"
PAUSED = "paused"
FREQUENCY_CAP = "frequency_cap"


@dataclass(frozen=True)
class ContactFacts:
    """What the guards need to know about one contact, read in one query per batch."""

    contact_id: int
    email: str | None
    consent_status: str
    marketing_paused_until: datetime | None
    unsubscribed_topics: tuple[str, ...]
    timezone: str | None
    merged_into_id: int | None
    suppressed: bool
    # When this contact was last sent marketing mail (None: not within the frequency-cap window).
    last_marketing_sent_at: datetime | None


@dataclass(frozen=True)
class Verdict:
    """Send now (both None), skip with a reason, or wait until a later moment."""

    skip_reason: str | None = None
    postpone_until: datetime | None = None

    @property
    def send(self) -> bool:
        """Whether the message may go now."""
        return self.skip_reason is None and self.postpone_until is None


SEND = Verdict()


def check(
    facts: ContactFacts | None, *, category: str, topic: str | None, now: datetime, settings: Settings
) -> Verdict:
    """The verdict for one message; transactional mail skips consent, cap and quiet hours, never suppression."""
    if facts is None:
        return Verdict(NO_CONTACT)
    if facts.merged_into_id is not None:
        return Verdict(MERGED)
    if not facts.email:
        return Verdict(NO_ADDRESS)
    if facts.suppressed:
        return Verdict(SUPPRESSED)
    if category == TRANSACTIONAL:
        return SEND
    if facts.consent_status == "unsubscribed":
        return Verdict(UNSUBSCRIBED)
    if facts.consent_status == "pending":
        return Verdict(PENDING_CONFIRMATION)
    if facts.consent_status != "subscribed":
        return Verdict(NO_CONSENT)
    if topic is not None and topic in facts.unsubscribed_topics:
        return Verdict(TOPIC_UNSUBSCRIBED)
    if facts.marketing_paused_until is not None and facts.marketing_paused_until > now:
        return Verdict(PAUSED)
    cap = timedelta(hours=settings.frequency_cap_hours)
    if (
        cap > timedelta(0)
        and facts.last_marketing_sent_at is not None
        and facts.last_marketing_sent_at > now - cap
    ):
        return Verdict(FREQUENCY_CAP)
    quiet_end = end_of_quiet_hours(
        now, facts.timezone or settings.default_timezone, settings.quiet_hours_start, settings.quiet_hours_end
    )
    if quiet_end is not None:
        return Verdict(postpone_until=quiet_end)
    return SEND


def zone_of(name: str | None) -> ZoneInfo:
    """The contact's time zone, UTC when unknown or not a real zone name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def end_of_quiet_hours(now: datetime, zone_name: str, start_hour: int, end_hour: int) -> datetime | None:
    """When the quiet hours around `now` end in that zone (as UTC), or None when it is not quiet there."""
    if start_hour == end_hour:
        return None
    zone = zone_of(zone_name)
    local = now.astimezone(zone)
    hour = local.hour
    quiet = (
        start_hour <= hour < end_hour if start_hour < end_hour else (hour >= start_hour or hour < end_hour)
    )
    if not quiet:
        return None
    day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    end_local = datetime.combine(day, time(end_hour), tzinfo=zone)
    # Across a DST change the wall-clock hour may not exist or repeat; fold=0 and the zone settle it.
    return end_local.astimezone(now.tzinfo)
