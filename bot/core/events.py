"""Immutable records the ledger returns for every change it makes.

They carry no timestamps: the engine that feeds the ledger stamps its output with the input
event's exchange and receive times, so the ledger stays a pure function of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.values import (
    Liquidity,
    MarginMode,
    OrderSide,
    PositionMode,
    PositionSlot,
    Side,
)


@dataclass(frozen=True, slots=True)
class Fill:
    """A trade to book: the input to `Account.apply_fill`."""

    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    liquidity: Liquidity = Liquidity.TAKER
    slot: PositionSlot = PositionSlot.BOTH  # hedge mode: LONG or SHORT
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class FillApplied:
    symbol: str
    slot: PositionSlot
    side: OrderSide
    qty: Decimal
    price: Decimal
    liquidity: Liquidity
    fee: Decimal
    realized_pnl: Decimal
    position_side: Side | None  # after the fill; None when flat
    position_qty: Decimal
    entry_price: Decimal | None
    isolated_margin: Decimal
    wallet_balance: Decimal


@dataclass(frozen=True, slots=True)
class FundingApplied:
    symbol: str
    slot: PositionSlot
    side: Side
    qty: Decimal
    mark_price: Decimal
    funding_rate: Decimal
    amount: Decimal  # signed: negative = paid, positive = received
    margin_mode: MarginMode


@dataclass(frozen=True, slots=True)
class MarginModeChanged:
    symbol: str
    margin_mode: MarginMode


@dataclass(frozen=True, slots=True)
class PositionModeChanged:
    position_mode: PositionMode


@dataclass(frozen=True, slots=True)
class LeverageChanged:
    symbol: str
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class IsolatedMarginChanged:
    symbol: str
    slot: PositionSlot
    delta: Decimal
    isolated_margin: Decimal
    wallet_balance: Decimal


@dataclass(frozen=True, slots=True)
class LiquidatedPosition:
    symbol: str
    slot: PositionSlot
    side: Side
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    margin_mode: MarginMode
    pnl_at_mark: Decimal


@dataclass(frozen=True, slots=True)
class PartialLiquidation:
    """One step of a liquidation down the tiers: after the symbol's orders were cancelled, the
    venue closed `qty_closed` of a position in a higher tier at the market (the mark price
    here) with the taker fee, leaving `qty_after` in a lower tier. A full `Liquidation` follows
    when the rest is still below its maintenance margin."""

    margin_mode: MarginMode
    symbol: str
    slot: PositionSlot
    side: Side
    qty_before: Decimal
    qty_closed: Decimal
    qty_after: Decimal
    price: Decimal
    tier_before: int  # 1 = the lowest tier, as the venues number them
    tier_after: int
    margin_balance_at_mark: Decimal  # before the step: isolated margin + PnL, or cross equity
    maintenance_margin_before: Decimal
    maintenance_margin_after: Decimal
    fee: Decimal
    realized_pnl: Decimal
    isolated_margin_after: Decimal
    wallet_balance_after: Decimal


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One liquidation: an isolated position, or every cross position of the account together.

    `loss` is what the trader lost (the isolated margin, or the cross wallet). Of the margin left
    at the mark price, `clearance_fee` is the venue's liquidation fee and `insurance_fund_gain`
    the rest, which the insurance fund keeps because the position is closed at its bankruptcy
    price. `insurance_fund_cover` is the deficit the insurance fund paid when the margin left at
    the mark price was already negative: the trader's wallet never goes below zero.
    """

    margin_mode: MarginMode
    positions: tuple[LiquidatedPosition, ...]
    margin_before: Decimal  # isolated margin, or the cross wallet
    margin_balance_at_mark: Decimal
    maintenance_margin_at_mark: Decimal
    loss: Decimal
    clearance_fee: Decimal
    insurance_fund_gain: Decimal
    insurance_fund_cover: Decimal
    wallet_balance_after: Decimal
