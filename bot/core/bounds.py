"""The bounds every number from outside is held to, once, where it enters.

Commands (CLI, MQTT, strategies), feed frames, session records, configs and calculator input
all pass through these checks before anything is journaled or applied; docs/operations.md
states them. Each refusal names the field, the value as given and the range expected.

Why these numbers: no instrument of the venues we serve trades above a million million per
unit; no venue offers more than 200x; a venue's decimals carry at most 18 places; and the
ledger's 28-digit `Decimal` context must hold the products it forms, so inputs stay within 20
significant digits (a 60-digit number is refused, not rounded).
"""

from __future__ import annotations

from decimal import Decimal

from bot.errors import InputError

MAX_PRICE = Decimal("1e12")
MAX_QTY = Decimal("1e12")
MAX_AMOUNT = Decimal("1e15")  # money: wallets, margin adjustments
MAX_LEVERAGE = Decimal(200)
MAX_PLACES = 18
MAX_DIGITS = 20


def _shape(field: str, value: Decimal) -> None:
    if not value.is_finite():
        raise InputError(f"{field}: {value} is not a finite number")
    _, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_PLACES:
        raise InputError(f"{field}: {value} has more than {MAX_PLACES} decimal places")
    if len(digits) > MAX_DIGITS:
        raise InputError(f"{field}: {value} has more than {MAX_DIGITS} significant digits")


def bounded(
    field: str,
    value: Decimal,
    *,
    low: Decimal,
    high: Decimal,
    low_open: bool = False,
) -> Decimal:
    """`value` if it is finite, within [low, high] (or (low, high]) and of sane precision."""
    _shape(field, value)
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        left = "(" if low_open else "["
        raise InputError(f"{field}: {value} is outside {left}{low:,f}, {high:,f}]")
    return value


def price(field: str, value: Decimal) -> Decimal:
    return bounded(field, value, low=Decimal(0), high=MAX_PRICE, low_open=True)


def quantity(field: str, value: Decimal) -> Decimal:
    return bounded(field, value, low=Decimal(0), high=MAX_QTY, low_open=True)


def leverage(field: str, value: Decimal) -> Decimal:
    return bounded(field, value, low=Decimal(1), high=MAX_LEVERAGE)


def amount(field: str, value: Decimal) -> Decimal:
    """Money that may be negative (a margin removal): |value| ≤ MAX_AMOUNT."""
    return bounded(field, value, low=-MAX_AMOUNT, high=MAX_AMOUNT)


def rate(field: str, value: Decimal, high: Decimal = Decimal(1)) -> Decimal:
    """A fraction: a fee, a callback rate, a margin level."""
    return bounded(field, value, low=-high, high=high)
