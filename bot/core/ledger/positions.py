"""The ledger's value types: fee schedules, per-symbol settings and positions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.core.values import ZERO, Liquidity, MarginMode, PositionSlot, Side, Venue, fmt


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    maker: Decimal
    taker: Decimal

    def rate(self, liquidity: Liquidity) -> Decimal:
        return self.maker if liquidity is Liquidity.MAKER else self.taker


# Regular-user (VIP 0) rates; configurable per account. Binance USDⓈ-M 0.02 % / 0.05 %,
# Bybit derivatives 0.02 % / 0.055 % (both venues' fee pages; not re-read from a stored copy),
# OKX perpetual swaps 0.02 % / 0.05 % (OKX fee schedule, regular users; likewise).
DEFAULT_FEES: Mapping[Venue, FeeSchedule] = {
    Venue.BINANCE: FeeSchedule(Decimal("0.0002"), Decimal("0.0005")),
    Venue.BYBIT: FeeSchedule(Decimal("0.0002"), Decimal("0.00055")),
    Venue.OKX: FeeSchedule(Decimal("0.0002"), Decimal("0.0005")),
}


@dataclass(frozen=True, slots=True)
class SymbolSettings:
    margin_mode: MarginMode
    leverage: Decimal


@dataclass(slots=True)
class Position:
    """An open position. Mutable inside the ledger; the outside sees events and figures."""

    symbol: str
    slot: PositionSlot
    side: Side
    qty: Decimal
    entry_price: Decimal
    margin_mode: MarginMode
    leverage: Decimal
    isolated_margin: Decimal = ZERO

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is Side.LONG else -self.qty

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        return self.signed_qty * (mark_price - self.entry_price)

    def describe(self) -> str:
        return f"{self.side} {fmt(self.qty)} {self.symbol} at {fmt(self.entry_price)}"
