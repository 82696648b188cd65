"""Per-venue margin formulas behind one protocol.

Each venue module implements the exchange's documented formulas and names its sources. The
ledger asks `formulas_for(venue, account_type)` and never branches on the venue itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot.core.ledger.margin import binance, bybit, okx
from bot.core.ledger.margin.common import Leg, LiquidationInputs
from bot.core.values import AccountType, Venue


class MarginFormulas(Protocol):
    # Whether a new position's initial margin (and an isolated position's allocated margin)
    # includes the estimated fee to close, as on a Bybit Unified account.
    @property
    def reserves_close_fee(self) -> bool: ...

    # Whether the maintenance margin includes the estimated fee to close (OKX, Bybit Unified).
    @property
    def includes_close_fee(self) -> bool: ...

    # Where the venue documents liquidation in steps down its tiers (liquidation.py): the
    # 0-based tier from which it steps, and how many tiers one step goes down; else None.
    @property
    def partial_steps(self) -> tuple[int, int] | None: ...

    def tier_basis(self, leg: Leg, mark_price: Decimal) -> Decimal: ...

    # The requirement's growth per unit of value as the mark moves, where its tier cannot move
    # with the mark (OKX: tier by size); None where the tier follows the notional, and the
    # quiet bands (speed/bands.py) bound it from the tier table instead.
    def mark_rate(self, leg: Leg) -> Decimal | None: ...

    def close_fee(self, leg: Leg, mark_price: Decimal) -> Decimal: ...

    def maintenance_margin(self, leg: Leg, mark_price: Decimal) -> Decimal: ...

    def initial_margin(self, leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal: ...

    def liquidation_price(self, inputs: LiquidationInputs) -> Decimal | None: ...

    def bankruptcy_price(self, inputs: LiquidationInputs) -> Decimal | None: ...


def default_account_type(venue: Venue) -> AccountType | None:
    """Bybit accounts are Unified unless said otherwise; the other venues have one type."""
    return AccountType.UNIFIED if venue is Venue.BYBIT else None


def formulas_for(venue: Venue, account_type: AccountType | None = None) -> MarginFormulas:
    if venue is Venue.BINANCE:
        return binance
    if venue is Venue.OKX:
        return okx
    kind = account_type or AccountType.UNIFIED
    return bybit.CLASSIC if kind is AccountType.CLASSIC else bybit.UNIFIED


__all__ = ["Leg", "LiquidationInputs", "MarginFormulas", "default_account_type", "formulas_for"]
