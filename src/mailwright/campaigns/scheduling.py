"""When each recipient's email goes out: a fixed instant, a local time per recipient, or the best hour.

Pure functions of the start instant, the recipients' time zones and hours, so every rule is tested
without a database. Delivery sends an outbox row once its `send_at` is due, so scheduling a campaign is
choosing each recipient's `send_at`, and throttling is spreading those instants out.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FIXED = "fixed"
LOCAL_TIME = "local_time"
BEST_HOUR = "best_hour"
SCHEDULE_KINDS = (FIXED, LOCAL_TIME, BEST_HOUR)

# Where each recipient's best hour came from, reported with the campaign.
HOUR_FROM_PREDICTION = "prediction"
HOUR_FROM_SHOP_CLICKS = "shop_clicks"
HOUR_FROM_DEFAULT = "default"


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """The contact's zone; the shop default when unknown, UTC when even that is not a real zone."""
    for candidate in (name, default):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def parse_local_time(value: str) -> time:
    """'10:00' -> time(10, 0); raises ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdecimal() or not minutes.isdecimal() or len(minutes) != 2:
        raise ValueError(f"local time must look like HH:MM, not {value!r}")
    return time(int(hours), int(minutes))


def next_local(start: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first instant at or after `start` whose wall-clock time in `zone` is `at` (as UTC)."""
    local_start = start.astimezone(zone)
    for days in range(0, 3):
        day = local_start.date() + timedelta(days=days)
        # A wall-clock time skipped by a DST change resolves (fold=0) to the instant just after the gap.
        candidate = datetime.combine(day, at, tzinfo=zone)
        # Round-trip through UTC so a non-existent local time becomes a real instant.
        candidate = candidate.astimezone(start.tzinfo).astimezone(zone)
        if candidate >= local_start:
            return candidate.astimezone(start.tzinfo)
    raise AssertionError("a local time recurs within two days")  # pragma: no cover


def hour_of_day(best_send_hour: int) -> int:
    """The hour of the day of a prediction's hour of the week (0 = Monday 00:00)."""
    return best_send_hour % 24


def shop_best_hour(click_hours: Iterable[int]) -> int | None:
    """The local hour of the day with the most clicks (ties: the earliest hour), or None without clicks."""
    counts = Counter(click_hours)
    if not counts:
        return None
    top = max(counts.values())
    return min(hour for hour, n in counts.items() if n == top)


@dataclass(frozen=True)
class RecipientTiming:
    """What the scheduler needs about one recipient."""

    contact_id: int
    timezone: str | None
    # Hour of the week from the send-time prediction (0 = Monday 00:00, contact's zone), if any.
    best_send_hour: int | None = None


@dataclass(frozen=True)
class Planned:
    """One recipient's send instant and, for best-hour campaigns, where its hour came from."""

    contact_id: int
    send_at: datetime
    hour_source: str | None = None


def plan(
    recipients: Sequence[RecipientTiming],
    *,
    kind: str,
    start: datetime,
    default_timezone: str,
    local_time: time | None = None,
    shop_hour: int | None = None,
    default_hour: int = 10,
) -> list[Planned]:
    """Each recipient's `send_at` for a schedule kind, never before `start`.

    fixed: everyone at `start`. local_time: the next `local_time` in each contact's zone. best_hour: the
    next occurrence of the contact's predicted best hour of the day (the hour-of-the-week prediction
    folded onto one day, so a campaign goes out within 24 hours); without a prediction the shop-wide
    best hour from past clicks (`shop_hour`), and without those `default_hour`, both in the contact's zone.
    """
    if kind == FIXED:
        return [Planned(r.contact_id, start) for r in recipients]
    if kind == LOCAL_TIME:
        if local_time is None:
            raise ValueError("a local_time schedule needs the local time")
        zones: dict[str | None, ZoneInfo] = {}
        out = []
        for r in recipients:
            zone = zones.get(r.timezone) or zones.setdefault(
                r.timezone, zone_of(r.timezone, default_timezone)
            )
            out.append(Planned(r.contact_id, next_local(start, local_time, zone)))
        return out
    if kind == BEST_HOUR:
        out = []
        for r in recipients:
            if r.best_send_hour is not None:
                hour, source = hour_of_day(r.best_send_hour), HOUR_FROM_PREDICTION
            elif shop_hour is not None:
                hour, source = shop_hour, HOUR_FROM_SHOP_CLICKS
            else:
                hour, source = default_hour, HOUR_FROM_DEFAULT
            zone = zone_of(r.timezone, default_timezone)
            out.append(Planned(r.contact_id, next_local(start, time(hour), zone), source))
        return out
    raise ValueError(f"unknown schedule kind {kind!r}")


def throttle(planned: Sequence[Planned], per_hour: int | None) -> list[Planned]:
    """Spread send instants so that no more than `per_hour` fall in any hour, never moving one earlier.

    Recipients are taken in order of their planned instant (then contact id, so the result is stable);
    each goes at its planned instant or one slot (3600 / per_hour seconds) after the previous one,
    whichever is later.
    """
    if not per_hour or per_hour <= 0:
        return list(planned)
    gap = timedelta(seconds=3600 / per_hour)
    out: list[Planned] = []
    previous: datetime | None = None
    for p in sorted(planned, key=lambda item: (item.send_at, item.contact_id)):
        moment = p.send_at if previous is None else max(p.send_at, previous + gap)
        out.append(Planned(p.contact_id, moment, p.hour_source))
        previous = moment
    return out


def hour_sources(planned: Iterable[Planned]) -> Mapping[str, int]:
    """How many recipients got their hour from each source (best-hour campaigns)."""
    return dict(Counter(p.hour_source for p in planned if p.hour_source is not None))
