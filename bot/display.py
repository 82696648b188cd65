"""Figures as a trader reads them, the same everywhere (`status`, the CLI's replies, the web
view, the compare report): money with separators and two places, prices with at least five
significant digits, fractions as percentages with two places, '-' for none. The ledger keeps
full precision; only display rounds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def money(value: Any) -> str:
    """12,345.68 from a Decimal or its text; '-' for None; anything else as it is."""
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def price(value: Any) -> str:
    """A price with separators and at least five significant digits: 25,422.80, 64.599,
    0.45478 (two places would show an ADA or XRP price, or its liquidation price, as 0.45)."""
    if value is None:
        return "-"
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite():
        return str(value)
    places = 2 if number == 0 else min(8, max(2, 4 - number.adjusted()))
    return f"{number:,.{places}f}"


def percent(value: Any) -> str:
    """A fraction as '4.38 %' (0.0438); '-' for None; anything else as it is."""
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)) * 100:.2f} %"
    except ArithmeticError:
        return str(value)
