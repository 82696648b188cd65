"""Latest mark, last, index and book top per symbol, and their divergence."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.market import BookTop, LastPrice, MarketEvent, MarkPrice, Trade
from bot.core.values import div


@dataclass(slots=True)
class SymbolPrices:
    mark: Decimal | None = None
    last: Decimal | None = None
    index: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    ts_event: int = 0

    def divergence(self) -> Decimal | None:
        """|mark − last| / mark, when both are known."""
        if self.mark is None or self.last is None:
            return None
        return div(abs(self.mark - self.last), self.mark)


class PriceBoard:
    """Applies market events to per-(venue, symbol) prices. Pure and deterministic."""

    def __init__(self) -> None:
        self.symbols: dict[tuple[str, str], SymbolPrices] = {}

    def get(self, venue: str, symbol: str) -> SymbolPrices:
        key = (venue, symbol)
        prices = self.symbols.get(key)
        if prices is None:
            prices = self.symbols[key] = SymbolPrices()
        return prices

    def apply(self, event: MarketEvent) -> SymbolPrices | None:
        """Update from the event; returns the symbol's prices when mark or last changed."""
        if isinstance(event, MarkPrice):
            prices = self.get(event.venue, event.symbol)
            prices.mark = event.mark_price
            if event.index_price is not None:
                prices.index = event.index_price
        elif isinstance(event, Trade | LastPrice):
            prices = self.get(event.venue, event.symbol)
            prices.last = event.price
        elif isinstance(event, BookTop):
            prices = self.get(event.venue, event.symbol)
            prices.bid, prices.ask = event.bid_price, event.ask_price
            return None
        else:
            return None
        prices.ts_event = event.ts_event
        return prices
