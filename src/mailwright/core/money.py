"""Money as integer minor units with an ISO 4217 currency."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from mailwright.core.errors import InvalidInput


def to_minor(amount: object, currency: str, *, field: str = "amount") -> int:
    """Convert a major-unit amount (19.99, "19.99") to minor units (1999) for the currency's precision."""
    if isinstance(amount, bool):
        raise InvalidInput(f"{field} must be a number, not a boolean", field=field)
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise InvalidInput(f"{field} must be a number, got {amount!r}", field=field) from exc
    if not value.is_finite():
        raise InvalidInput(f"{field} must be a finite number", field=field)
    digits = get_currency_precision(currency)
    return int((value * (10**digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units back to a Decimal amount in major units."""
    digits: int = get_currency_precision(currency)
    return Decimal(minor) / (Decimal(10) ** digits)
