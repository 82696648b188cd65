"""What the engine returns: small immutable records stamped with the input's time."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.events import (
    FillApplied,
    FundingApplied,
    IsolatedMarginChanged,
    LeverageChanged,
    Liquidation,
    MarginModeChanged,
    PartialLiquidation,
    PositionModeChanged,
)
from bot.core.orders.model import OrderStatus, OrderType, PriceSource


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    ts: int
    account: str
    order_id: str
    symbol: str
    order_type: OrderType
    status: OrderStatus
    description: str
    client_id: str | None


@dataclass(frozen=True, slots=True)
class OrderRejected:
    ts: int
    account: str
    symbol: str
    code: str
    reason: str
    client_id: str | None


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    ts: int
    account: str
    order_id: str
    symbol: str
    order_type: OrderType
    source: PriceSource
    trigger_price: Decimal
    source_price: Decimal
    role: str  # "take_profit", "stop_loss" for a position's bracket, else "order"


@dataclass(frozen=True, slots=True)
class OrderFilled:
    ts: int
    account: str
    order_id: str
    role: str
    fill: FillApplied


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    ts: int
    account: str
    order_id: str
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class PositionLiquidated:
    ts: int
    account: str
    last_price: Decimal | None
    liquidation: Liquidation


@dataclass(frozen=True, slots=True)
class PositionPartiallyLiquidated:
    ts: int
    account: str
    last_price: Decimal | None
    step: PartialLiquidation


@dataclass(frozen=True, slots=True)
class FundingSettled:
    ts: int
    account: str
    funding: FundingApplied


@dataclass(frozen=True, slots=True)
class SettingChanged:
    ts: int
    account: str
    change: MarginModeChanged | PositionModeChanged | LeverageChanged | IsolatedMarginChanged


@dataclass(frozen=True, slots=True)
class CommandRefused:
    ts: int
    account: str
    command: str
    reason: str


EngineEvent = (
    OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderFilled
    | OrderCanceled
    | PositionLiquidated
    | PositionPartiallyLiquidated
    | FundingSettled
    | SettingChanged
    | CommandRefused
)
