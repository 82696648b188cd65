"""Per-venue margin formulas behind one protocol.

Each venue module implements the exchange's documented formulas and names its sources. The
ledger asks `formulas_for(venue)` and never branches on the venue itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot.core.ledger.margin import binance, bybit
from bot.core.ledger.margin.common import Leg, LiquidationInputs
from bot.core.values import Venue


class MarginFormulas(Protocol):
    def maintenance_margin(self, leg: Leg, mark_price: Decimal) -> Decimal: ...

    def initial_margin(self, leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal: ...

    def liquidation_price(self, inputs: LiquidationInputs) -> Decimal | None: ...

    def bankruptcy_price(self, inputs: LiquidationInputs) -> Decimal | None: ...


_FORMULAS: dict[Venue, MarginFormulas] = {Venue.BINANCE: binance, Venue.BYBIT: bybit}


def formulas_for(venue: Venue) -> MarginFormulas:
    return _FORMULAS[venue]


__all__ = ["Leg", "LiquidationInputs", "MarginFormulas", "formulas_for"]
