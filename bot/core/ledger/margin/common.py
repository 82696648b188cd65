"""Inputs shared by the venues' liquidation formulas."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.instruments import TierTable
from bot.core.values import ONE, ZERO, Side, div


@dataclass(frozen=True, slots=True)
class Leg:
    """One position as the formulas see it: direction, size, entry and its tier table; the
    leverage and the account's taker fee rate for the venues whose requirement includes the
    estimated fee to close (Bybit's Unified account, OKX)."""

    side: Side
    qty: Decimal
    entry_price: Decimal
    tiers: TierTable
    leverage: Decimal = ONE
    taker_fee_rate: Decimal = ZERO

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is Side.LONG else -self.qty

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        return self.signed_qty * (mark_price - self.entry_price)


@dataclass(frozen=True, slots=True)
class LiquidationInputs:
    """What decides one liquidation price.

    `legs` share the price: one position (one-way or isolated), or both legs of a symbol in
    cross hedge mode. The other terms follow Binance's FAQ naming: WB is the wallet backing the
    legs (cross wallet, or the position's isolated margin); TMM1 and UPNL1 are the maintenance
    margin and unrealized PnL of every *other* cross position, at their own mark prices.
    """

    legs: tuple[Leg, ...]
    mark_price: Decimal
    wallet_balance: Decimal
    other_maintenance_margin: Decimal = ZERO
    other_unrealized_pnl: Decimal = ZERO


def linear_liquidation_price(
    numerator: Decimal, denominator: Decimal, liquidated_above: bool
) -> Decimal | None:
    """The price solving equity = maintenance margin, where margin is linear in price.

    `liquidated_above` says on which side of the root the position is liquidated (net short:
    above; net long: below). A root at or below zero then means one of two things: a position
    liquidated below it can never be liquidated at a positive price, so it has no liquidation
    price (the exchanges show "--", never a negative number); a position liquidated above it is
    liquidatable at every price, and its liquidation price is 0.
    """
    if denominator == ZERO:
        return None
    solution = div(numerator, denominator)
    if solution > ZERO:
        return solution
    return ZERO if liquidated_above else None
