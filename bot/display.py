"""Figures as a trader reads them, the same everywhere (`status`, the CLI's replies, the web
view, the compare report): money with separators and two places, prices with at least five
significant digits, quantities as they are, fractions as percentages with two places, '-' for
none. The ledger keeps full precision; only display rounds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

EIGHT_PLACES = Decimal("0.00000001")


def _finite(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None when it is not a number (shown as it is)."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def money(value: Any) -> str:
    """12,345.68 from a Decimal or its text; '-' for None; anything else as it is."""
    if value is None:
        return "-"
    number = _finite(value)
    return str(value) if number is None else f"{number:,.2f}"


def price(value: Any) -> str:
    """A price with separators and at least five significant digits: 25,422.80, 64.599,
    0.45478 (two places would show an ADA or XRP price, or its liquidation price, as 0.45)."""
    if value is None:
        return "-"
    number = _finite(value)
    if number is None:
        return str(value)
    places = 2 if number == 0 else min(8, max(2, 4 - number.adjusted()))
    return f"{number:,.{places}f}"


def plain(value: Any) -> str:
    """A quantity or setting as given: separators, at most 8 places, no trailing 0."""
    number = _finite(value)
    if number is None:
        return str(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        number = number.quantize(EIGHT_PLACES)
    text = f"{number:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: Any) -> str:
    """A fraction as '4.38 %' (0.0438); '-' for None; anything else as it is."""
    if value is None:
        return "-"
    number = _finite(value)
    return str(value) if number is None else f"{number * 100:.2f} %"
