"""Market data events: what the venue parsers produce and the engine consumes.

Every event carries two integer-nanosecond timestamps: `ts_event`, when the venue says it
happened, and `ts_recv`, when we received the frame. Prices and quantities are Decimals parsed
from the venue's strings. Symbols are the venue's own ids ("BTCUSDT", "BTC-USDT-SWAP").

They are msgspec Structs rather than frozen dataclasses: one is made per frame, and a frozen
dataclass's `__init__` (one `object.__setattr__` per field) took ten times as long.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from bot.core.values import OrderSide


class MarkPrice(msgspec.Struct, frozen=True, gc=False):
    """The price the exchange values positions and liquidates at."""

    venue: str
    symbol: str
    mark_price: Decimal
    index_price: Decimal | None
    funding_rate: Decimal | None
    next_funding_time: int | None  # ns
    ts_event: int
    ts_recv: int


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A market trade: it sets the last price. `qty` is None when the venue gives contracts we
    cannot convert (no contract size known)."""

    venue: str
    symbol: str
    price: Decimal
    qty: Decimal | None
    taker_side: OrderSide | None
    trade_id: str
    ts_event: int
    ts_recv: int


class LastPrice(msgspec.Struct, frozen=True, gc=False):
    """A last traded price reported by a ticker rather than by a trade print."""

    venue: str
    symbol: str
    price: Decimal
    ts_event: int
    ts_recv: int


class NonMarketTrade(msgspec.Struct, frozen=True, gc=False):
    """A print that is not a market trade (insurance fund, ADL, ...): never a last price.

    Binance marks these on the trade stream with `X` other than "MARKET"; a last-price feed that
    does not filter them shows false spikes (a real INSURANCE_FUND print 2 % off the market is in
    the shipped session)."""

    venue: str
    symbol: str
    price: Decimal
    qty: Decimal
    kind: str
    trade_id: str
    ts_event: int
    ts_recv: int


class BookTop(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    bid_price: Decimal | None
    bid_qty: Decimal | None
    ask_price: Decimal | None
    ask_qty: Decimal | None
    ts_event: int
    ts_recv: int


class MarketLiquidation(msgspec.Struct, frozen=True, gc=False):
    """A liquidation order the venue executed in the market (someone else's position)."""

    venue: str
    symbol: str
    side: OrderSide
    price: Decimal
    qty: Decimal
    ts_event: int
    ts_recv: int


class FundingRate(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    funding_rate: Decimal
    next_funding_time: int | None  # ns
    ts_event: int
    ts_recv: int


MarketEvent = (
    MarkPrice | Trade | LastPrice | NonMarketTrade | BookTop | MarketLiquidation | FundingRate
)

MS = 1_000_000  # nanoseconds per millisecond


class FrameError(ValueError):
    """A frame that cannot be parsed; `kind` groups errors so each kind is logged once."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
