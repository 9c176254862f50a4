"""Helpers registered in the template sandbox: money, numbers and dates in the recipient's locale."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import pass_context
from jinja2.runtime import Context, Undefined

from mailwright.core.clock import ensure_utc
from mailwright.core.money import from_minor

# The renderer puts these names in every context; the filters read them so a template never has to
# repeat the recipient's locale or currency.
LOCALE_VAR = "locale"
CURRENCY_VAR = "currency"
TIMEZONE_VAR = "timezone"
FALLBACK_LOCALE = "en"


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> Locale:
    """A Babel locale for a BCP 47 tag ('pt-BR'), falling back to its language, then to English."""
    for candidate in _locale_candidates(tag):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(FALLBACK_LOCALE)


def _locale_candidates(tag: str | None) -> list[str]:
    if not tag:
        return [FALLBACK_LOCALE]
    cleaned = tag.replace("_", "-").strip()
    language = cleaned.split("-", 1)[0]
    return [cleaned, language, FALLBACK_LOCALE]


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, (bool, Undefined)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# Prices repeat across recipients (the same products, the same cart totals), so formatting is cached:
# Babel's pattern formatting is the most expensive call in a typical render.
@lru_cache(maxsize=8192)
def _format_money(amount: Decimal, currency: str, locale: str) -> str:
    return str(format_currency(amount, currency, locale=babel_locale(locale)))


@lru_cache(maxsize=8192)
def _format_number(amount: Decimal, locale: str, decimals: int | None) -> str:
    if decimals is None:
        return str(format_decimal(amount, locale=babel_locale(locale)))
    fmt = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return str(format_decimal(amount, format=fmt, locale=babel_locale(locale)))


def _ctx(context: Context, name: str, default: str) -> str:
    # resolve_or_missing is what Context.get calls underneath, without its two extra layers.
    value = context.resolve_or_missing(name)
    return value if isinstance(value, str) and value else default


# Amounts whose cached text depends only on their type and value (and hashable, for lru_cache).
_PLAIN_AMOUNTS = (int, float, str, Decimal)


# A render prints a dozen prices, the same ones for most recipients: the whole filter is cached per
# (value, currency argument, context currency, locale), with `typed` so that 49 and 49.0 or True and 1
# never share an entry. The bodies keep the uncached order of checks, so results (and errors) match.
@lru_cache(maxsize=8192, typed=True)
def _money_major_text(value: Any, currency: str | None, default_currency: str, locale: str) -> str:
    amount = _as_decimal(value)
    if amount is None:
        return ""
    return _format_money(amount, (currency or default_currency).upper(), locale)


@lru_cache(maxsize=8192, typed=True)
def _money_minor_text(value: Any, currency: str | None, default_currency: str, locale: str) -> str:
    if value is None or isinstance(value, (bool, Undefined)):
        return ""
    code = (currency or default_currency).upper()
    try:
        amount = from_minor(int(value), code)
    except (TypeError, ValueError):
        return ""
    return _format_money(amount, code, locale)


def _cacheable(value: Any, currency: Any) -> bool:
    return isinstance(value, _PLAIN_AMOUNTS) and (currency is None or isinstance(currency, str))


@pass_context
def money(context: Context, value: Any, currency: str | None = None) -> str:
    """Format a major-unit amount (19.99, as Segment events carry it) in the recipient's locale."""
    args = (value, currency, _ctx(context, CURRENCY_VAR, "USD"), _ctx(context, LOCALE_VAR, FALLBACK_LOCALE))
    if _cacheable(value, currency):
        return _money_major_text(*args)
    return _money_major_text.__wrapped__(*args)


@pass_context
def money_minor(context: Context, value: Any, currency: str | None = None) -> str:
    """Format integer minor units (1999 = 19.99) as stored by Mailwright, in the recipient's locale."""
    args = (value, currency, _ctx(context, CURRENCY_VAR, "USD"), _ctx(context, LOCALE_VAR, FALLBACK_LOCALE))
    if _cacheable(value, currency):
        return _money_minor_text(*args)
    return _money_minor_text.__wrapped__(*args)


@pass_context
def number(context: Context, value: Any, decimals: int | None = None) -> str:
    """Format a number with the recipient's grouping and decimal separators."""
    amount = _as_decimal(value)
    if amount is None:
        return ""
    return _format_number(amount, _ctx(context, LOCALE_VAR, FALLBACK_LOCALE), decimals)


@pass_context
def percent(context: Context, value: Any) -> str:
    """Format a ratio (0.15) as a percentage in the recipient's locale."""
    amount = _as_decimal(value)
    if amount is None:
        return ""
    return str(format_percent(amount, locale=babel_locale(_ctx(context, LOCALE_VAR, FALLBACK_LOCALE))))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_moment(value: Any) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


@pass_context
def date_filter(context: Context, value: Any, fmt: str = "long") -> str:
    """Format a date or timestamp as a date in the recipient's locale and time zone."""
    moment = _parse_moment(value)
    if moment is None:
        return ""
    locale = babel_locale(_ctx(context, LOCALE_VAR, FALLBACK_LOCALE))
    if isinstance(moment, datetime):
        moment = ensure_utc(moment).astimezone(_zone(_ctx(context, TIMEZONE_VAR, "UTC"))).date()
    return str(format_date(moment, format=fmt, locale=locale))


@pass_context
def datetime_filter(context: Context, value: Any, fmt: str = "medium") -> str:
    """Format a timestamp in the recipient's locale and time zone."""
    moment = _parse_moment(value)
    if not isinstance(moment, datetime):
        return date_filter(context, value, fmt)
    locale = babel_locale(_ctx(context, LOCALE_VAR, FALLBACK_LOCALE))
    zone = _zone(_ctx(context, TIMEZONE_VAR, "UTC"))
    return str(format_datetime(ensure_utc(moment), format=fmt, tzinfo=zone, locale=locale))


def first_word(value: Any) -> str:
    """The first word of a string: a first name out of a full name."""
    if not isinstance(value, str):
        return ""
    parts = value.split()
    return parts[0] if parts else ""


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "money_minor": money_minor,
    "number": number,
    "percent": percent,
    "date": date_filter,
    "datetime": datetime_filter,
    "first_word": first_word,
}
