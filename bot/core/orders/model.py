"""Orders: types, the trader's request, the live order, and the exchange's pre-trade checks.

Trigger directions follow Binance USDⓈ-M (`POST /fapi/v1/order`): STOP/STOP_MARKET buy when the
price rises to the trigger, sell when it falls to it; TAKE_PROFIT the other way round;
TRAILING_STOP_MARKET follows the best price since activation by `callback_rate`. The trigger
price source is the mark or the last price (Binance `workingType`, Bybit `triggerBy`), or the
index where the venue offers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.core.values import ZERO, MarginMode, OrderSide, PositionSlot, fmt


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TAKE_PROFIT_LIMIT = "take_profit_limit"
    TRAILING_STOP_MARKET = "trailing_stop_market"

    @property
    def triggered(self) -> bool:
        return self not in (OrderType.MARKET, OrderType.LIMIT)

    @property
    def becomes_limit(self) -> bool:
        return self in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)

    @property
    def is_stop(self) -> bool:
        return self in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP_MARKET)


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"  # Binance GTX


class PriceSource(StrEnum):
    MARK = "mark"
    LAST = "last"
    INDEX = "index"


class OrderStatus(StrEnum):
    UNTRIGGERED = "untriggered"
    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"


MIN_CALLBACK = Decimal("0.001")  # Binance trailing stop callback rate: 0.1 % …
MAX_CALLBACK = Decimal("0.1")  # … to 10 %


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the trader asks for. `qty` is None only with `close_position`."""

    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal | None
    price: Decimal | None = None  # limit price
    trigger_price: Decimal | None = None
    trigger_source: PriceSource = PriceSource.LAST
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    slot: PositionSlot = PositionSlot.BOTH
    callback_rate: Decimal | None = None  # trailing stop, e.g. 0.01 for 1 %
    activation_price: Decimal | None = None  # trailing stop
    margin_mode: MarginMode | None = None  # the mode the trader expects the symbol to be in
    client_id: str | None = None


@dataclass(slots=True)
class Order:
    """A live order inside the engine."""

    id: str
    account: str
    request: OrderRequest
    status: OrderStatus
    trigger: Decimal | None  # current trigger (moves for trailing stops)
    fires_on_rise: bool  # the trigger fires when the source price rises to it
    extreme: Decimal | None = None  # trailing: best price since activation
    activated: bool = True  # trailing: activation price reached
    bracket: str | None = None  # id shared by a position's take-profit and stop-loss
    filled_qty: Decimal = ZERO

    @property
    def symbol(self) -> str:
        return self.request.symbol

    def describe(self) -> str:
        r = self.request
        size = "close position" if r.close_position else fmt(r.qty or ZERO)
        return f"{r.type} {r.side} {size} {r.symbol}"


def triggered_type(stop: bool, limit: bool) -> OrderType:
    """The order type of a trigger order a venue describes by direction: a stop (a buy firing
    on a rise, a sell on a fall) or a take-profit, placing a limit or a market order."""
    if stop:
        return OrderType.STOP_LIMIT if limit else OrderType.STOP_MARKET
    return OrderType.TAKE_PROFIT_LIMIT if limit else OrderType.TAKE_PROFIT_MARKET


def fires_on_rise(request: OrderRequest) -> bool:
    """Whether the trigger fires when the price rises to it (Binance's STOP/TAKE_PROFIT rules)."""
    buy = request.side is OrderSide.BUY
    return buy if request.type.is_stop else not buy
