"""Email normalization and the profile fields a trait dictionary can set."""

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email

from mailwright.core.errors import InvalidInput


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Validate an address (syntax only: DNS is never consulted) and return its normalized form."""
    try:
        # Lower-casing the local part too: shops treat Ann@x.com and ann@x.com as one customer.
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email address {raw!r}: {exc}", field=field) from exc


# Segment's reserved traits and where they land on the profile; everything else is a custom property.
_NAME_TRAITS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "phone": "phone",
    "signupSource": "signup_source",
    "signup_source": "signup_source",
}


# Traits that speak about email consent; read by ingestion, never stored as custom properties.
CONSENT_TRAITS = frozenset({"email_consent", "emailConsent", "subscribed", "accepts_marketing"})


def profile_fields_from_traits(traits: dict[str, Any], *, field_prefix: str = "traits") -> dict[str, Any]:
    """Map Segment traits onto profile columns, validating each; unknown traits go to `properties`."""
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in traits.items():
        path = f"{field_prefix}.{key}"
        if value is None:
            continue
        if key == "email":
            fields["email"] = normalize_email(str(value), field=path)
        elif key in _NAME_TRAITS:
            fields[_NAME_TRAITS[key]] = str(value)[:200]
        elif key == "name" and isinstance(value, str):
            first, _, last = value.strip().partition(" ")
            fields.setdefault("first_name", first or None)
            if last:
                fields.setdefault("last_name", last)
        elif key in ("locale", "language"):
            fields["locale"] = normalize_locale(str(value), field=path)
        elif key in ("timezone", "time_zone"):
            fields["timezone"] = normalize_timezone(str(value), field=path)
        elif key == "birthday":
            fields["birthday"] = _parse_date(value, field=path)
        elif key == "address" and isinstance(value, dict):
            if value.get("country"):
                fields["country"] = normalize_country(str(value["country"]), field=f"{path}.country")
            if value.get("city"):
                fields["city"] = str(value["city"])[:200]
        elif key == "country":
            fields["country"] = normalize_country(str(value), field=path)
        elif key == "city":
            fields["city"] = str(value)[:200]
        elif key == "currency":
            fields["currency"] = normalize_currency(str(value), field=path)
        elif key in ("userId", "id", "anonymousId") or key in CONSENT_TRAITS:
            continue
        else:
            custom[key] = value
    if custom:
        fields["properties"] = custom
    return fields


def normalize_locale(raw: str, *, field: str = "locale") -> str:
    """A BCP 47 tag Babel knows (en-GB, pt-BR); refuses what it cannot parse."""
    try:
        locale = Locale.parse(raw.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise InvalidInput(f"unknown locale {raw!r}", field=field) from exc
    return f"{locale.language}-{locale.territory}" if locale.territory else str(locale.language)


def normalize_timezone(raw: str, *, field: str = "timezone") -> str:
    """An IANA time zone name (Europe/London)."""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown IANA time zone {raw!r}", field=field) from exc
    return raw


def normalize_country(raw: str, *, field: str = "country") -> str:
    """An ISO 3166 alpha-2 code, from a code or an English country name."""
    value = raw.strip()
    if len(value) == 2 and value.isalpha():
        return value.upper()
    code = _COUNTRY_BY_NAME.get(value.lower())
    if code is None:
        raise InvalidInput(f"unknown country {raw!r} (use an ISO 3166 alpha-2 code)", field=field)
    return code


def normalize_currency(raw: str, *, field: str = "currency") -> str:
    """An ISO 4217 code Babel knows."""
    code = raw.strip().upper()
    if code not in _CURRENCIES:
        raise InvalidInput(f"unknown currency {raw!r}", field=field)
    return code


def _parse_date(value: Any, *, field: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidInput(f"invalid date {value!r} (expected YYYY-MM-DD)", field=field) from exc


def _build_country_names() -> dict[str, str]:
    names = {name.lower(): code for code, name in Locale("en").territories.items() if len(code) == 2}
    # Common spellings in shop exports that differ from CLDR's English names.
    names.update(
        {
            "usa": "US",
            "uk": "GB",
            "eire": "IE",
            "rsa": "ZA",
            "england": "GB",
            "channel islands": "JE",
            "european community": "EU",
            "czech republic": "CZ",
        }
    )
    return names


_COUNTRY_BY_NAME = _build_country_names()
_CURRENCIES = frozenset(list_currencies())
