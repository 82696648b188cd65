"""Trader commands: typed inputs to the engine, each naming its account and the time given."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.instruments import Instrument
from bot.core.orders.model import OrderRequest, PriceSource
from bot.core.values import MarginMode, PositionMode, PositionSlot


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    account: str
    request: OrderRequest
    ts: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    account: str
    order_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close the whole position with a reduce-only market order."""

    account: str
    symbol: str
    ts: int
    slot: PositionSlot = PositionSlot.BOTH


@dataclass(frozen=True, slots=True)
class SetLeverage:
    account: str
    symbol: str
    leverage: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class SetMarginMode:
    account: str
    symbol: str
    margin_mode: MarginMode
    ts: int


@dataclass(frozen=True, slots=True)
class SetPositionMode:
    account: str
    position_mode: PositionMode
    ts: int


@dataclass(frozen=True, slots=True)
class AdjustIsolatedMargin:
    """Add (amount > 0) or remove (amount < 0) isolated margin."""

    account: str
    symbol: str
    amount: Decimal
    ts: int
    slot: PositionSlot = PositionSlot.BOTH


@dataclass(frozen=True, slots=True)
class SetTakeProfitStopLoss:
    """Attach (or replace) a position's take-profit and stop-loss (Bybit trading-stop,
    Binance close-position TP/SL). Either may be None to leave that side off."""

    account: str
    symbol: str
    ts: int
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit_source: PriceSource = PriceSource.LAST
    stop_loss_source: PriceSource = PriceSource.MARK
    slot: PositionSlot = PositionSlot.BOTH


@dataclass(frozen=True, slots=True)
class LoadInstruments:
    """Instruments the bundled snapshot lacked, loaded from the venue at start: an input like
    any other, so a recovered or replayed ledger knows them too."""

    account: str
    instruments: tuple[Instrument, ...]


Command = (
    PlaceOrder
    | CancelOrder
    | ClosePosition
    | SetLeverage
    | SetMarginMode
    | SetPositionMode
    | AdjustIsolatedMargin
    | SetTakeProfitStopLoss
)
