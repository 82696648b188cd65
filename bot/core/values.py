"""Value types shared by the core: enums and exact Decimal helpers."""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)

# Balances, margins, fees, funding and realized PnL are booked with 8 decimals: the precision in
# which both venues report USDT amounts (Binance `walletBalance`/`isolatedWallet`, Bybit
# `walletBalance`/`positionBalance`; see shared/data/ccxt excerpts). Average entry prices are kept
# with the same 8 decimals, as Bybit reports `avgPrice` (e.g. "64.59947917").
MONEY_QUANTUM = Decimal("0.00000001")
PRICE_QUANTUM = Decimal("0.00000001")

# Divisions (entry averaging, initial margin, liquidation prices, ratios) run in a fixed context so
# results never depend on a caller's thread-local decimal context.
_DIVISION = Context(prec=28, traps=[InvalidOperation, DivisionByZero, Overflow])


class Venue(StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"


class AccountType(StrEnum):
    """Bybit's two account types. Every Bybit account, testnet included, is now a Unified
    Trading Account, whose margins carry the estimated fee to close; `classic` keeps the older
    derivatives account's formulas. Other venues have one type."""

    UNIFIED = "unified"
    CLASSIC = "classic"


class Side(StrEnum):
    """Direction of a position."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class OrderSide(StrEnum):
    """Direction of a trade."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opens(self) -> Side:
        """The position side this trade adds to in one-way mode."""
        return Side.LONG if self is OrderSide.BUY else Side.SHORT


class PositionSlot(StrEnum):
    """Where a position lives: one-way mode has one slot per symbol, hedge mode two."""

    BOTH = "both"
    LONG = "long"
    SHORT = "short"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class PositionMode(StrEnum):
    ONE_WAY = "one_way"
    HEDGE = "hedge"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class ContractType(StrEnum):
    LINEAR_PERPETUAL = "linear_perpetual"


def div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """Divide with 28 significant digits, independent of the caller's decimal context."""
    return _DIVISION.divide(numerator, denominator)


def money(amount: Decimal) -> Decimal:
    """Round an amount to the venue's booking precision (8 decimals, half up)."""
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def price(value: Decimal) -> Decimal:
    """Round a derived price (an average entry) to 8 decimals, half up."""
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


# Beyond these, a value cannot be an exchange amount and would overflow 28-digit arithmetic.
_LARGEST = Decimal(10) ** 15
_FINEST_EXPONENT = -18


def parse_decimal(raw: object, field: str) -> Decimal:
    """Parse an exchange or user value into a finite Decimal.

    Strings and ints are exact. Floats are refused: a float has already lost the exchange's digits.
    """
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, bool) or not isinstance(raw, str | int):
        # A wrong type is one more bad value to the callers, who report it with the field name.
        raise ValueError(f"{field}: expected a decimal number as a string, got {raw!r}")  # noqa: TRY004
    else:
        try:
            value = Decimal(raw.strip() if isinstance(raw, str) else raw)
        except InvalidOperation:
            raise ValueError(f"{field}: {_show(raw)} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{field}: {_show(raw)} is not a finite number")
    if abs(value) >= _LARGEST or (value and value.as_tuple().exponent < _FINEST_EXPONENT):  # type: ignore[operator]
        raise ValueError(
            f"{field}: {_show(raw)} is out of range; expected at most 15 digits before the point "
            "and 18 after it"
        )
    return value


def _show(raw: object) -> str:
    return repr(raw) if isinstance(raw, str) else str(raw)


def approx(value: Decimal, digits: int = 8) -> str:
    """For people, not for the books: a derived figure (a liquidation price is a quotient with
    28 digits) rounded to `digits` significant digits."""
    return fmt(Context(prec=digits, rounding=ROUND_HALF_EVEN).plus(value))


def fmt(value: Decimal) -> str:
    """Plain decimal notation at full precision, without exponent or trailing zeros."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def slot_words(slot: PositionSlot) -> str:
    """How a position slot reads in a sentence: "" for one-way ("both" is Binance's wire
    term), "long " or "short " in hedge mode."""
    return "" if slot is PositionSlot.BOTH else f"{slot.value} "
