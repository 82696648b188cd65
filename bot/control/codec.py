"""Trader commands as JSON (docs/commands.md): decoded strictly, turned into core commands.

    {"id": "c1", "cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "side": "buy",
     "type": "market", "qty": "0.1"}

Numbers may be JSON strings or numbers; both are read exactly. Unknown fields and unknown
commands are refused with the path of the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import msgspec

from bot.core import bounds
from bot.core.commands import (
    AdjustIsolatedMargin,
    CancelOrder,
    ClosePosition,
    Command,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
    SetPositionMode,
    SetTakeProfitStopLoss,
)
from bot.core.orders.model import OrderRequest, OrderType, PriceSource, TimeInForce
from bot.core.values import MarginMode, OrderSide, PositionMode, PositionSlot
from bot.errors import InputError
from bot.validation import explain

Side = Literal["buy", "sell"]
Source = Literal["mark", "last", "index"]
SlotName = Literal["both", "long", "short"]


# Every number a command carries, and the bounds it is held to (bot/core/bounds.py): checked
# as the JSON is decoded, so nothing out of bounds is ever journaled or applied.
_BOUNDS: dict[str, Callable[[str, Decimal], Decimal]] = {
    "qty": bounds.quantity,
    "price": bounds.price,
    "trigger_price": bounds.price,
    "activation_price": bounds.price,
    "take_profit": bounds.price,
    "stop_loss": bounds.price,
    "callback_rate": bounds.rate,
    "leverage": bounds.leverage,
    "amount": bounds.amount,
}
_TEXT_LIMIT = 128  # ids, names and symbols: no venue's is longer


def check_text(field: str, value: str | None) -> None:
    """Printable text of a sane length: it ends up in topics, logs and files."""
    if value is None:
        return
    if len(value) > _TEXT_LIMIT:
        raise InputError(f"{field}: {len(value)} characters; at most {_TEXT_LIMIT}")
    if not value.isprintable() or any(c in value for c in "#+/"):
        raise InputError(f"{field}: {value!r} holds a control character or one of # + /")


class _Base(msgspec.Struct, forbid_unknown_fields=True, tag_field="cmd"):
    account: str
    id: str | None = None

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            check = _BOUNDS.get(name)
            if check is not None and value is not None:
                check(name, value)
            elif isinstance(value, str):
                check_text(name, value)


class PlaceOrderJson(_Base, tag="place_order"):
    symbol: str = ""
    side: Side = "buy"
    type: OrderType = OrderType.MARKET  # the one definition of the order types
    qty: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_source: Source = "last"
    time_in_force: Literal["gtc", "ioc", "fok", "post_only"] = "gtc"
    reduce_only: bool = False
    close_position: bool = False
    position_side: SlotName = "both"
    callback_rate: Decimal | None = None
    activation_price: Decimal | None = None
    margin_mode: Literal["cross", "isolated"] | None = None
    client_id: str | None = None

    def command(self, ts: int) -> Command:
        if not self.symbol:
            raise InputError("place_order: symbol is required")
        return PlaceOrder(
            self.account,
            OrderRequest(
                symbol=self.symbol.upper(),
                side=OrderSide(self.side),
                type=_order_type(self.type),
                qty=self.qty,
                price=self.price,
                trigger_price=self.trigger_price,
                trigger_source=PriceSource(self.trigger_source),
                time_in_force=TimeInForce(self.time_in_force),
                reduce_only=self.reduce_only,
                close_position=self.close_position,
                slot=PositionSlot(self.position_side),
                callback_rate=self.callback_rate,
                activation_price=self.activation_price,
                margin_mode=MarginMode(self.margin_mode) if self.margin_mode else None,
                client_id=self.client_id,
            ),
            ts,
        )


def _order_type(value: OrderType | str) -> OrderType:
    """Decoded JSON gives an OrderType; a strategy may construct the struct with the text."""
    try:
        return OrderType(value)
    except ValueError:
        kinds = ", ".join(t.value for t in OrderType)
        raise InputError(f"place_order: type {value!r} is not one of {kinds}") from None


class CancelOrderJson(_Base, tag="cancel_order"):
    order_id: str = ""

    def command(self, ts: int) -> Command:
        return CancelOrder(self.account, self.order_id, ts)


class ClosePositionJson(_Base, tag="close_position"):
    symbol: str = ""
    position_side: SlotName = "both"

    def command(self, ts: int) -> Command:
        return ClosePosition(
            self.account, self.symbol.upper(), ts, PositionSlot(self.position_side)
        )


class SetLeverageJson(_Base, tag="set_leverage"):
    symbol: str = ""
    leverage: Decimal = Decimal(0)

    def command(self, ts: int) -> Command:
        return SetLeverage(self.account, self.symbol.upper(), self.leverage, ts)


class SetMarginModeJson(_Base, tag="set_margin_mode"):
    symbol: str = ""
    margin_mode: Literal["cross", "isolated"] = "cross"

    def command(self, ts: int) -> Command:
        return SetMarginMode(self.account, self.symbol.upper(), MarginMode(self.margin_mode), ts)


class SetPositionModeJson(_Base, tag="set_position_mode"):
    position_mode: Literal["one_way", "hedge"] = "one_way"

    def command(self, ts: int) -> Command:
        return SetPositionMode(self.account, PositionMode(self.position_mode), ts)


class AdjustMarginJson(_Base, tag="adjust_margin"):
    symbol: str = ""
    amount: Decimal = Decimal(0)
    position_side: SlotName = "both"

    def command(self, ts: int) -> Command:
        return AdjustIsolatedMargin(
            self.account, self.symbol.upper(), self.amount, ts, PositionSlot(self.position_side)
        )


class SetTpSlJson(_Base, tag="set_tp_sl"):
    symbol: str = ""
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit_source: Source = "last"
    stop_loss_source: Source = "mark"
    position_side: SlotName = "both"

    def command(self, ts: int) -> Command:
        return SetTakeProfitStopLoss(
            self.account,
            self.symbol.upper(),
            ts,
            self.take_profit,
            self.stop_loss,
            PriceSource(self.take_profit_source),
            PriceSource(self.stop_loss_source),
            PositionSlot(self.position_side),
        )


class QueryJson(msgspec.Struct, forbid_unknown_fields=True, tag_field="cmd", tag="query"):
    """Read-only: the accounts' figures and open orders. Not recorded, changes nothing."""

    account: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        check_text("account", self.account)
        check_text("id", self.id)


CommandJson = (
    PlaceOrderJson
    | CancelOrderJson
    | ClosePositionJson
    | SetLeverageJson
    | SetMarginModeJson
    | SetPositionModeJson
    | AdjustMarginJson
    | SetTpSlJson
    | QueryJson
)
_decoder = msgspec.json.Decoder(CommandJson)


def decode(raw: bytes | str) -> CommandJson:
    try:
        decoded: CommandJson = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InputError(explain(str(exc), "command")) from None
    except msgspec.DecodeError as exc:
        raise InputError(f"not valid JSON: {exc}") from None
    return decoded


def correlation_id(raw: bytes | str) -> str | None:
    """The request's `id`, even from a request that fails to decode, so the reply can carry it."""
    try:
        document: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("id"), str):
        try:
            check_text("id", document["id"])
        except InputError:
            return None  # a hostile id is never echoed into a topic or a reply
        return str(document["id"])
    return None
