"""Figures as a trader reads them, the same everywhere (`status`, the CLI's replies, the web
view, the compare report): money and prices with separators and two places, fractions as
percentages with two places, '-' for none. The ledger keeps full precision; only display rounds.
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


def percent(value: Any) -> str:
    """A fraction as '4.38 %' (0.0438); '-' for None; anything else as it is."""
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)) * 100:.2f} %"
    except ArithmeticError:
        return str(value)
