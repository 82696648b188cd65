"""The simulator's private Binance USDⓈ-M endpoints: orders, positions, account, settings.

The simulated exchange account is run by marginbot's own engine, fed with the prices the
simulator plays. That tests what crosses the wire (ccxt's requests and signatures, the venue's
answer shapes and error codes, reconciliation and drift detection), not the margin formulas,
which are tested against the exchanges' documented examples instead.

Error answers (Binance USDⓈ-M error codes): -1121 invalid symbol, -1013 lot size, -4014 tick
size, -4164 minimum notional, -2019 margin is insufficient, -2022 reduce-only rejected, -2021
would immediately trigger, -2011 unknown order, -4046 no need to change margin type, -4120
conditional order type sent to /fapi/v1/order.

Conditional orders (stop, take-profit, trailing; Binance change log 2025-11-06, in force since
2025-12-09) live in the Algo Service: `POST /fapi/v1/algoOrder` with `algoType=CONDITIONAL`,
`triggerPrice`, `activatePrice` and `clientAlgoId`, answered `{algoId, clientAlgoId,
algoStatus, ...}`; cancelled with `DELETE /fapi/v1/algoOrder`, listed by `GET
/fapi/v1/openAlgoOrders`. Shapes as ccxt 4.5.90 documents them (`binance.py` `parse_order`).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.core.commands import (
    CancelOrder,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
    SetPositionMode,
)
from bot.core.engine import Engine
from bot.core.engine_events import CommandRefused, OrderAccepted, OrderFilled, OrderRejected
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.ledger.figures import account_figures
from bot.core.orders.model import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PriceSource,
    TimeInForce,
)
from bot.core.values import ZERO, MarginMode, OrderSide, PositionMode, PositionSlot, Venue, fmt
from bot.markets.snapshot import bundled_for

CODES = {
    "unknown_symbol": (-1121, "Invalid symbol."),
    "lot_size": (-1013, "Filter failure: LOT_SIZE"),
    "min_qty": (-1013, "Filter failure: LOT_SIZE"),
    "tick_size": (-4014, "Price not increased by tick size."),
    "min_notional": (
        -4164,
        "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    ),
    "insufficient_margin": (-2019, "Margin is insufficient."),
    "reduce_only_would_increase": (-2022, "ReduceOnly Order is rejected."),
    "would_trigger_immediately": (-2021, "Order would immediately trigger."),
}
TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_MARKET": OrderType.STOP_MARKET,
    "STOP": OrderType.STOP_LIMIT,
    "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET,
    "TAKE_PROFIT": OrderType.TAKE_PROFIT_LIMIT,
    "TRAILING_STOP_MARKET": OrderType.TRAILING_STOP_MARKET,
}
WIRE_TYPES = {v: k for k, v in TYPES.items()}
CONDITIONAL = frozenset(
    {"STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}
)
ALGO_ONLY = (
    -4120,
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
)
TIF = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTX": TimeInForce.POST_ONLY,
}


def error(code: int, message: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": message}, status=status)


def _decimal(params: dict[str, str], key: str) -> Decimal | None:
    value = params.get(key)
    return Decimal(value) if value not in (None, "") else None


class SimExchange:
    """One simulated Binance futures account (the simulator's API key)."""

    ACCOUNT = "sim"

    def __init__(self, wallet_balance: Decimal = Decimal(10_000)) -> None:
        account = Account(
            Venue.BINANCE,
            bundled_for(Venue.BINANCE),
            wallet_balance,
            fees=FeeSchedule(Decimal("0.0002"), Decimal("0.0005")),
        )
        self.engine = Engine({self.ACCOUNT: account})
        self.client_ids: dict[str, str] = {}
        self.algo_ids: set[str] = set()  # orders placed through the Algo Service

    @property
    def account(self) -> Account:
        return self.engine.desks[self.ACCOUNT].account

    def order_json(self, order: Order, avg_price: Decimal | None = None) -> dict[str, Any]:
        r = order.request
        status = {OrderStatus.FILLED: "FILLED", OrderStatus.CANCELED: "CANCELED"}.get(
            order.status, "NEW"
        )
        executed = order.filled_qty
        return {
            "orderId": int(order.id.rsplit("-", 1)[1]),
            "symbol": r.symbol,
            "status": status,
            "clientOrderId": r.client_id or order.id,
            "price": fmt(r.price or ZERO),
            "avgPrice": fmt(avg_price or ZERO),
            "origQty": fmt(r.qty or executed),
            "executedQty": fmt(executed),
            "cumQty": fmt(executed),
            "cumQuote": fmt(executed * (avg_price or ZERO)),
            "timeInForce": "GTC",
            "type": WIRE_TYPES[r.type],
            "origType": WIRE_TYPES[r.type],
            "reduceOnly": r.reduce_only,
            "closePosition": r.close_position,
            "side": r.side.value.upper(),
            "positionSide": r.slot.value.upper(),
            "stopPrice": fmt(r.trigger_price or ZERO),
            "workingType": "MARK_PRICE"
            if r.trigger_source is PriceSource.MARK
            else "CONTRACT_PRICE",
            "priceProtect": False,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "updateTime": int(time.time() * 1000),
        }

    def place(self, p: dict[str, str]) -> web.Response:
        if p.get("type", "") in CONDITIONAL:
            return error(*ALGO_ONLY)
        return self._place(p, algo=False)

    def place_algo(self, p: dict[str, str]) -> web.Response:
        if p.get("algoType") != "CONDITIONAL":
            return error(
                -1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed."
            )
        if p.get("type", "") not in CONDITIONAL:
            return error(-1116, "Invalid orderType.")
        return self._place(p, algo=True)

    def _place(self, p: dict[str, str], algo: bool) -> web.Response:
        kind = TYPES.get(p.get("type", ""))
        if kind is None:
            return error(-1116, "Invalid orderType.")
        trigger, activation = (
            ("triggerPrice", "activatePrice") if algo else ("stopPrice", "activationPrice")
        )
        client_id = p.get("clientAlgoId" if algo else "newClientOrderId")
        request = OrderRequest(
            symbol=p.get("symbol", ""),
            side=OrderSide(p.get("side", "").lower() or "buy"),
            type=kind,
            qty=_decimal(p, "quantity"),
            price=_decimal(p, "price"),
            trigger_price=_decimal(p, trigger),
            trigger_source=PriceSource.MARK
            if p.get("workingType") == "MARK_PRICE"
            else PriceSource.LAST,
            time_in_force=TIF.get(p.get("timeInForce", "GTC"), TimeInForce.GTC),
            reduce_only=p.get("reduceOnly") == "true",
            close_position=p.get("closePosition") == "true",
            slot=PositionSlot(p.get("positionSide", "BOTH").lower()),
            callback_rate=(_decimal(p, "callbackRate") or ZERO) / 100 or None,
            activation_price=_decimal(p, activation),
            client_id=client_id,
        )
        events = self.engine.step(PlaceOrder(self.ACCOUNT, request, time.time_ns()))
        for event in events:
            if isinstance(event, OrderRejected):
                code, message = CODES.get(event.code, (-1102, event.reason))
                return error(code, message)
        accepted = next(e for e in events if isinstance(e, OrderAccepted))
        order = self.engine.desks[self.ACCOUNT].orders[accepted.order_id]
        if request.client_id:
            self.client_ids[request.client_id] = order.id
        if algo:
            self.algo_ids.add(order.id)
            return web.json_response(self.algo_json(order))
        fills = [e for e in events if isinstance(e, OrderFilled)]
        return web.json_response(self.order_json(order, fills[0].fill.price if fills else None))

    def algo_json(self, order: Order) -> dict[str, Any]:
        """An algo order as `POST/GET /fapi/v1/algoOrder` answer it."""
        r = order.request
        status = {
            OrderStatus.UNTRIGGERED: "NEW",
            OrderStatus.CANCELED: "CANCELED",
            OrderStatus.FILLED: "FINISHED",
        }.get(order.status, "TRIGGERED")
        now = int(time.time() * 1000)
        return {
            "algoId": int(order.id.rsplit("-", 1)[1]),
            "clientAlgoId": r.client_id or order.id,
            "algoType": "CONDITIONAL",
            "orderType": WIRE_TYPES[r.type],
            "symbol": r.symbol,
            "side": r.side.value.upper(),
            "positionSide": r.slot.value.upper(),
            "timeInForce": "GTC",
            "quantity": fmt(r.qty or ZERO),
            "algoStatus": status,
            "triggerPrice": fmt(r.trigger_price or ZERO),
            "price": fmt(r.price or ZERO),
            "icebergQuantity": None,
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": "MARK_PRICE"
            if r.trigger_source is PriceSource.MARK
            else "CONTRACT_PRICE",
            "priceMatch": "NONE",
            "closePosition": r.close_position,
            "priceProtect": False,
            "reduceOnly": r.reduce_only,
            "activatePrice": fmt(r.activation_price) if r.activation_price else "",
            "callbackRate": fmt(r.callback_rate * 100) if r.callback_rate else "",
            "createTime": now,
            "updateTime": now,
            "triggerTime": 0,
            "goodTillDate": 0,
        }

    def _find(self, p: dict[str, str], algo: bool = False) -> Order | None:
        desk = self.engine.desks[self.ACCOUNT]
        client_key, id_key = (
            ("clientAlgoId", "algoId") if algo else ("origClientOrderId", "orderId")
        )
        found: Order | None = None
        if client_key in p:
            order_id = self.client_ids.get(p[client_key])
            found = desk.orders.get(order_id) if order_id else None
        elif id_key in p:
            found = desk.orders.get(f"{self.ACCOUNT}-{p[id_key]}")
        # The two services keep their own orders: an id of one is unknown to the other.
        if found is not None and (found.id in self.algo_ids) != algo:
            return None
        return found

    def cancel(self, p: dict[str, str]) -> web.Response:
        order = self._find(p)
        if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED):
            return error(-2011, "Unknown order sent.")
        self.engine.step(CancelOrder(self.ACCOUNT, order.id, time.time_ns()))
        return web.json_response(self.order_json(order))

    def cancel_algo(self, p: dict[str, str]) -> web.Response:
        order = self._find(p, algo=True)
        if order is None or order.status is not OrderStatus.UNTRIGGERED:
            return error(-2011, "Unknown order sent.")
        self.engine.step(CancelOrder(self.ACCOUNT, order.id, time.time_ns()))
        answer = self.algo_json(order)
        return web.json_response(
            {
                "algoId": answer["algoId"],
                "clientAlgoId": answer["clientAlgoId"],
                "code": "200",
                "msg": "success",
            }
        )

    def query_algo(self, p: dict[str, str]) -> web.Response:
        order = self._find(p, algo=True)
        if order is None:
            return error(-2013, "Order does not exist.")
        return web.json_response(self.algo_json(order))

    def open_orders(self, p: dict[str, str]) -> web.Response:
        desk = self.engine.desks[self.ACCOUNT]
        symbol = p.get("symbol")
        return web.json_response(
            [
                self.order_json(o)
                for o in desk.orders.values()
                if o.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
                and o.id not in self.algo_ids
                and (symbol is None or o.symbol == symbol)
            ]
        )

    def open_algo_orders(self, p: dict[str, str]) -> web.Response:
        desk = self.engine.desks[self.ACCOUNT]
        symbol = p.get("symbol")
        return web.json_response(
            [
                self.algo_json(o)
                for o in desk.orders.values()
                if o.status is OrderStatus.UNTRIGGERED
                and o.id in self.algo_ids
                and (symbol is None or o.symbol == symbol)
            ]
        )

    def positions(self, p: dict[str, str]) -> web.Response:
        figures = account_figures(self.account)
        now = int(time.time() * 1000)
        return web.json_response(
            [
                {
                    "symbol": f.symbol,
                    "positionSide": f.slot.value.upper(),
                    "positionAmt": fmt(f.qty if f.side.sign > 0 else -f.qty),
                    "entryPrice": fmt(f.entry_price),
                    "breakEvenPrice": fmt(f.entry_price),
                    "markPrice": fmt(f.mark_price),
                    "unRealizedProfit": fmt(f.unrealized_pnl),
                    "liquidationPrice": fmt(f.liquidation_price or ZERO),
                    "isolatedMargin": fmt(f.isolated_margin),
                    "notional": fmt(f.notional),
                    "marginAsset": "USDT",
                    "isolatedWallet": fmt(f.isolated_margin),
                    "initialMargin": fmt(f.initial_margin),
                    "maintMargin": fmt(f.maintenance_margin),
                    "positionInitialMargin": fmt(f.initial_margin),
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": now,
                }
                for f in figures.positions
                if p.get("symbol") in (None, f.symbol)
            ]
        )

    def account_info(self, p: dict[str, str]) -> web.Response:
        f = account_figures(self.account)
        asset = {
            "asset": "USDT",
            "walletBalance": fmt(f.wallet_balance + f.isolated_margin),
            "unrealizedProfit": fmt(f.unrealized_pnl),
            "marginBalance": fmt(f.margin_balance),
            "maintMargin": fmt(f.maintenance_margin),
            "initialMargin": "0",
            "positionInitialMargin": "0",
            "openOrderInitialMargin": "0",
            "crossWalletBalance": fmt(f.wallet_balance),
            "crossUnPnl": fmt(f.cross_margin_balance - f.wallet_balance),
            "availableBalance": fmt(f.available_balance),
            "maxWithdrawAmount": fmt(max(f.available_balance, ZERO)),
            "marginAvailable": True,
            "updateTime": int(time.time() * 1000),
        }
        return web.json_response(
            {
                "feeTier": 0,
                "canTrade": True,
                "canDeposit": True,
                "canWithdraw": True,
                "tradeGroupId": -1,
                "updateTime": 0,
                "multiAssetsMargin": False,
                "totalInitialMargin": "0",
                "totalMaintMargin": fmt(f.maintenance_margin),
                "totalWalletBalance": asset["walletBalance"],
                "totalUnrealizedProfit": asset["unrealizedProfit"],
                "totalMarginBalance": fmt(f.margin_balance),
                "totalPositionInitialMargin": "0",
                "totalOpenOrderInitialMargin": "0",
                "totalCrossWalletBalance": fmt(f.wallet_balance),
                "totalCrossUnPnl": asset["crossUnPnl"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "assets": [asset],
                "positions": [],
            }
        )

    def leverage(self, p: dict[str, str]) -> web.Response:
        value = _decimal(p, "leverage") or ZERO
        [event] = self.engine.step(
            SetLeverage(self.ACCOUNT, p.get("symbol", ""), value, time.time_ns())
        )
        if isinstance(event, CommandRefused):
            return error(-4028, f"Leverage {fmt(value)} is not valid")
        return web.json_response(
            {"symbol": p.get("symbol"), "leverage": int(value), "maxNotionalValue": "1000000"}
        )

    def symbol_config(self, p: dict[str, str]) -> web.Response:
        symbols = [p["symbol"]] if "symbol" in p else sorted(self.account.instruments)
        return web.json_response(
            [
                {
                    "symbol": s,
                    "marginType": "ISOLATED"
                    if self.account.settings(s).margin_mode is MarginMode.ISOLATED
                    else "CROSSED",
                    "isAutoAddMargin": False,
                    "leverage": int(self.account.settings(s).leverage),
                    "maxNotionalValue": "1000000",
                }
                for s in symbols
            ]
        )

    def position_side(self, p: dict[str, str]) -> web.Response:
        hedge = p.get("dualSidePosition") == "true"
        [event] = self.engine.step(
            SetPositionMode(
                self.ACCOUNT, PositionMode.HEDGE if hedge else PositionMode.ONE_WAY, time.time_ns()
            )
        )
        if isinstance(event, CommandRefused):
            return error(-4068, "Position side cannot be changed if there exists position.")
        return web.json_response({"code": 200, "msg": "success"})

    def margin_type(self, p: dict[str, str]) -> web.Response:
        wanted = MarginMode.ISOLATED if p.get("marginType") == "ISOLATED" else MarginMode.CROSS
        symbol = p.get("symbol", "")
        if self.account.settings(symbol).margin_mode is wanted:
            return error(-4046, "No need to change margin type.")
        [event] = self.engine.step(SetMarginMode(self.ACCOUNT, symbol, wanted, time.time_ns()))
        if isinstance(event, CommandRefused):
            return error(-4048, "Margin type cannot be changed if there exists position.")
        return web.json_response({"code": 200, "msg": "success"})
