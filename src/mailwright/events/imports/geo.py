"""Country names of shop exports turned into an ISO code, a likely locale and a main time zone."""

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from mailwright.contacts.identity import normalize_country, normalize_locale
from mailwright.core.errors import InvalidInput

# Codes normalize_country accepts that name no single country (no locale, no time zone to derive).
_NOT_A_COUNTRY = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XK"})

# Short names shops use where CLDR's English name is longer ("Hong Kong SAR China").
_EXTRA_NAMES = {
    "hong kong": "HK",
    "macau": "MO",
    "macao": "MO",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "vietnam": "VN",
    "taiwan": "TW",
    "palestine": "PS",
    "great britain": "GB",
    "holland": "NL",
}

# Countries spanning several zones: the zone where most of their people live.
_MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "DE": "Europe/Berlin",
    "CY": "Asia/Nicosia",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "MX": "America/Mexico_City",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "NZ": "Pacific/Auckland",
    "ID": "Asia/Jakarta",
    "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty",
    "UA": "Europe/Kyiv",
    "MY": "Asia/Kuala_Lumpur",
    "EC": "America/Guayaquil",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "DK": "Europe/Copenhagen",
    "GB": "Europe/London",
    "NO": "Europe/Oslo",
    "IT": "Europe/Rome",
    "CH": "Europe/Zurich",
}


@lru_cache(maxsize=512)
def country_code(raw: str | None) -> str | None:
    """The ISO 3166 alpha-2 code of a country name or code, or None when it names no known country."""
    if raw is None or not raw.strip():
        return None
    code = _EXTRA_NAMES.get(raw.strip().lower())
    if code is not None:
        return code
    try:
        code = normalize_country(raw)
    except InvalidInput:
        return None
    return None if code in _NOT_A_COUNTRY else code


@lru_cache(maxsize=512)
def locale_for(country: str | None) -> str | None:
    """The most likely locale of a country (en-GB, de-DE, pt-BR ...) from CLDR's likely subtags."""
    if country is None:
        return None
    try:
        likely = Locale.parse(f"und_{country}")
        return normalize_locale(f"{likely.language}_{country}")
    except (ValueError, UnknownLocaleError, InvalidInput):
        return None


@lru_cache(maxsize=512)
def timezone_for(country: str | None) -> str | None:
    """The IANA time zone most of a country lives in, or None when that is not clear."""
    if country is None:
        return None
    zone = _MAIN_ZONE.get(country)
    if zone is None:
        zones: list[str] = get_global("territory_zones").get(country, [])
        # A country with several zones and no entry above gets none rather than a wrong guess.
        zone = zones[0] if len(zones) == 1 else None
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone
