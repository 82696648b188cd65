"""The simulator's private Bybit v5 endpoints (linear, unified account), like exchange.py for
Binance: an account run by marginbot's own engine behind Bybit's wire format.

Auth (Bybit v5): headers X-BAPI-API-KEY, X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW and X-BAPI-SIGN =
HMAC-SHA256(secret, timestamp + api key + recv window + query string or JSON body). Errors come
back with HTTP 200 and a `retCode`: 10001 parameter error, 10002 timestamp outside the receive
window, 10003 invalid API key, 10004 bad signature, 110001 order does not exist, 110007
insufficient balance, 110017 reduce-only would increase the position, 110043 leverage not
modified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.core.commands import CancelOrder, PlaceOrder, SetLeverage, SetMarginMode
from bot.core.engine import Engine
from bot.core.engine_events import CommandRefused, OrderAccepted, OrderRejected
from bot.core.instruments import Instrument, TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.ledger.figures import account_figures
from bot.core.orders.model import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PriceSource,
    TimeInForce,
    triggered_type,
)
from bot.core.values import ZERO, MarginMode, OrderSide, PositionSlot, Venue, fmt

SIM_RISK_TIERS = TierTable.from_floors_and_rates(
    [Decimal(0), Decimal(2_000_000)],
    [Decimal("0.005"), Decimal("0.01")],
    [Decimal(100), Decimal(50)],
)
CODES = {
    "insufficient_margin": (110007, "ab not enough for new order"),
    "reduce_only_would_increase": (
        110017,
        "current position is zero, cannot fix reduce-only order qty",
    ),
    "unknown_symbol": (10001, "params error: symbol invalid"),
    "lot_size": (10001, "The number of contracts exceeds minimum limit allowed"),
    "min_qty": (10001, "The number of contracts exceeds minimum limit allowed"),
    "min_notional": (110094, "Order does not meet minimum order value"),
    "tick_size": (10001, "params error: price must be a multiple of the tick size"),
    "would_trigger_immediately": (110092, "expect Rising, but trigger_price <= current"),
}
SOURCES = {
    "MarkPrice": PriceSource.MARK,
    "LastPrice": PriceSource.LAST,
    "IndexPrice": PriceSource.INDEX,
}
TIF = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "PostOnly": TimeInForce.POST_ONLY,
}


def bybit_instruments(listing: dict[str, Any]) -> dict[str, Instrument]:
    """Instruments from the recorded `instruments-info` list, with the simulator's risk tiers."""
    instruments = {}
    for item in listing["result"]["list"]:
        lot, price = item["lotSizeFilter"], item["priceFilter"]
        instruments[item["symbol"]] = Instrument(
            Venue.BYBIT,
            item["symbol"],
            item["baseCoin"],
            item["quoteCoin"],
            item["settleCoin"],
            SIM_RISK_TIERS,
            Decimal(price["tickSize"]),
            Decimal(lot["qtyStep"]),
            Decimal(lot["minOrderQty"]),
            Decimal(lot.get("minNotionalValue") or 0),
            Decimal(item["leverageFilter"]["maxLeverage"]),
        )
    return instruments


def _wire_id(order_id: str) -> str:
    """Bybit order ids are numeric strings: the engine's `sim-7` goes out as `7`."""
    return order_id.rsplit("-", 1)[1]


def reply(result: dict[str, Any] | None = None, code: int = 0, message: str = "OK") -> web.Response:
    return web.json_response(
        {
            "retCode": code,
            "retMsg": message,
            "result": result or {},
            "retExtInfo": {},
            "time": int(time.time() * 1000),
        }
    )


class SimBybitExchange:
    ACCOUNT = "sim"

    def __init__(
        self,
        listing: dict[str, Any],
        api_key: str,
        api_secret: str,
        wallet_balance: Decimal = Decimal(10_000),
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock_offset_ms = 0
        account = Account(
            Venue.BYBIT,
            bybit_instruments(listing),
            wallet_balance,
            fees=FeeSchedule(Decimal("0.0002"), Decimal("0.00055")),
        )
        self.engine = Engine({self.ACCOUNT: account})
        self.links: dict[str, str] = {}
        self.margin_mode = "REGULAR_MARGIN"  # account-wide on a unified account

    @property
    def account(self) -> Account:
        return self.engine.desks[self.ACCOUNT].account

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v5/user/query-api", self._private(self.query_api)),
            web.get("/v5/account/info", self._private(self.account_info)),
            web.post("/v5/order/create", self._private(self.create)),
            web.post("/v5/order/cancel", self._private(self.cancel)),
            web.get("/v5/order/realtime", self._private(self.open_orders)),
            web.get("/v5/position/list", self._private(self.positions)),
            web.get("/v5/account/wallet-balance", self._private(self.wallet)),
            web.post("/v5/position/set-leverage", self._private(self.leverage)),
            web.post("/v5/account/set-margin-mode", self._private(self.set_margin_mode)),
        ]

    def _private(self, handler: Any) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            body = await request.text() if request.method == "POST" else request.query_string
            headers = request.headers
            if headers.get("X-BAPI-API-KEY") != self.api_key:
                return reply(code=10003, message="API key is invalid.")
            stamp = headers.get("X-BAPI-TIMESTAMP", "")
            window = headers.get("X-BAPI-RECV-WINDOW", "5000")
            payload = stamp + self.api_key + window + body
            expected = hmac.new(
                self.api_secret.encode(), payload.encode(), hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(headers.get("X-BAPI-SIGN", ""), expected):
                return reply(code=10004, message="error sign! origin_string[...]")
            now = time.time() * 1000 + self.clock_offset_ms
            if not stamp.isdigit() or abs(now - int(stamp)) > int(window):
                return reply(
                    code=10002,
                    message="invalid request, please check your server "
                    "timestamp or recv_window param",
                )
            params = json.loads(body) if request.method == "POST" and body else dict(request.query)
            symbol = params.get("symbol")
            if symbol is not None and symbol not in self.account.instruments:
                return reply(code=10001, message="params error: symbol invalid")
            result: web.Response = handler(params)
            return result

        return endpoint

    def query_api(self, p: dict[str, Any]) -> web.Response:
        return reply(
            {
                "id": "1",
                "note": "marginbot simulator",
                "apiKey": self.api_key,
                "readOnly": 0,
                "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"]},
                "ips": ["*"],
                "type": 1,
                "deadlineDay": -1,
                "unified": 1,
                "uta": 1,
                "userID": 1,
                "isMaster": True,
            }
        )

    def account_info(self, p: dict[str, Any]) -> web.Response:
        return reply(
            {
                "unifiedMarginStatus": 4,
                "marginMode": self.margin_mode,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
                "updatedTime": str(int(time.time() * 1000)),
            }
        )

    def create(self, p: dict[str, Any]) -> web.Response:
        trigger = p.get("triggerPrice")
        limit = p.get("orderType") == "Limit"
        if trigger:
            rising = str(p.get("triggerDirection")) == "1"
            buy = p.get("side") == "Buy"
            stop = rising == buy  # a buy that fires on a rise, a sell on a fall: a stop
            kind = triggered_type(stop, limit)
        else:
            kind = OrderType.LIMIT if limit else OrderType.MARKET
        position_idx = int(p.get("positionIdx") or 0)
        request = OrderRequest(
            symbol=p["symbol"],
            side=OrderSide.BUY if p.get("side") == "Buy" else OrderSide.SELL,
            type=kind,
            qty=Decimal(str(p["qty"])) if p.get("qty") else None,
            price=Decimal(str(p["price"])) if limit and p.get("price") else None,
            trigger_price=Decimal(str(trigger)) if trigger else None,
            trigger_source=SOURCES.get(p.get("triggerBy", "LastPrice"), PriceSource.LAST),
            time_in_force=TIF.get(p.get("timeInForce", "GTC"), TimeInForce.GTC),
            reduce_only=bool(p.get("reduceOnly")) or bool(p.get("closeOnTrigger")),
            slot=(PositionSlot.BOTH, PositionSlot.LONG, PositionSlot.SHORT)[position_idx],
            client_id=p.get("orderLinkId"),
        )
        events = self.engine.step(PlaceOrder(self.ACCOUNT, request, time.time_ns()))
        for event in events:
            if isinstance(event, OrderRejected):
                code, message = CODES.get(event.code, (10001, event.reason))
                return reply(code=code, message=message)
        accepted = next(e for e in events if isinstance(e, OrderAccepted))
        if request.client_id:
            self.links[request.client_id] = accepted.order_id
        return reply(
            {"orderId": _wire_id(accepted.order_id), "orderLinkId": request.client_id or ""}
        )

    def _find(self, p: dict[str, Any]) -> Order | None:
        desk = self.engine.desks[self.ACCOUNT]
        order_id = self.links.get(p.get("orderLinkId", "")) or f"{self.ACCOUNT}-{p.get('orderId')}"
        return desk.orders.get(order_id)

    def cancel(self, p: dict[str, Any]) -> web.Response:
        order = self._find(p)
        if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED):
            return reply(code=110001, message="order not exists or too late to cancel")
        self.engine.step(CancelOrder(self.ACCOUNT, order.id, time.time_ns()))
        return reply({"orderId": _wire_id(order.id), "orderLinkId": order.request.client_id or ""})

    def _order_json(self, order: Order) -> dict[str, Any]:
        r = order.request
        return {
            "orderId": _wire_id(order.id),
            "orderLinkId": r.client_id or "",
            "symbol": r.symbol,
            "side": "Buy" if r.side is OrderSide.BUY else "Sell",
            "orderType": "Limit" if r.price is not None else "Market",
            "price": fmt(r.price or ZERO),
            "qty": fmt(r.qty or ZERO),
            "orderStatus": "Untriggered" if order.status is OrderStatus.UNTRIGGERED else "New",
            "triggerPrice": fmt(r.trigger_price or ZERO),
            "reduceOnly": r.reduce_only,
            "timeInForce": "GTC",
            "cumExecQty": "0",
            "createdTime": str(int(time.time() * 1000)),
            "updatedTime": str(int(time.time() * 1000)),
        }

    def open_orders(self, p: dict[str, Any]) -> web.Response:
        desk = self.engine.desks[self.ACCOUNT]
        rows = [
            self._order_json(o)
            for o in desk.orders.values()
            if o.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
            and p.get("symbol") in (None, o.symbol)
        ]
        return reply({"list": rows, "nextPageCursor": "", "category": "linear"})

    def positions(self, p: dict[str, Any]) -> web.Response:
        """`GET /v5/position/list` as a unified account answers it: every value a string, a
        flat row (size "0", side "", with the leverage) for a symbol asked for by name, and
        no liquidation or bankruptcy price ("") on cross rows."""
        now = str(int(time.time() * 1000))
        wanted = p.get("symbol")
        rows = []
        for f in account_figures(self.account).positions:
            if wanted not in (None, f.symbol):
                continue
            isolated = f.margin_mode is MarginMode.ISOLATED
            rows.append(
                self._position_row(
                    f.symbol,
                    now,
                    side="Buy" if f.side.sign > 0 else "Sell",
                    size=fmt(f.qty),
                    avgPrice=fmt(f.entry_price),
                    positionValue=fmt(f.qty * f.entry_price),
                    tradeMode="1" if isolated else "0",
                    leverage=fmt(f.leverage),
                    markPrice=fmt(f.mark_price),
                    liqPrice=fmt(f.liquidation_price) if isolated and f.liquidation_price else "",
                    bustPrice=fmt(f.bankruptcy_price) if isolated and f.bankruptcy_price else "",
                    positionIM=fmt(f.initial_margin),
                    positionMM=fmt(f.maintenance_margin),
                    positionBalance=fmt(f.isolated_margin),
                    unrealisedPnl=fmt(f.unrealized_pnl),
                    adlRankIndicator="2",
                )
            )
        if wanted is not None and not rows:
            settings = self.account.settings(wanted)
            mark = self.account.marks.get(wanted)
            rows.append(
                self._position_row(
                    wanted,
                    now,
                    tradeMode="1" if settings.margin_mode is MarginMode.ISOLATED else "0",
                    leverage=fmt(settings.leverage),
                    markPrice=fmt(mark) if mark is not None else "",
                )
            )
        return reply({"list": rows, "nextPageCursor": "", "category": "linear"})

    @staticmethod
    def _position_row(symbol: str, now: str, **values: str) -> dict[str, Any]:
        flat = {
            "symbol": symbol,
            "leverage": "10",
            "autoAddMargin": "0",
            "avgPrice": "0",
            "liqPrice": "",
            "riskLimitValue": "2000000",
            "takeProfit": "",
            "positionValue": "",
            "isReduceOnly": False,
            "tpslMode": "Full",
            "riskId": "1",
            "trailingStop": "0",
            "unrealisedPnl": "",
            "markPrice": "",
            "adlRankIndicator": "0",
            "cumRealisedPnl": "0",
            "positionMM": "0",
            "createdTime": now,
            "positionIdx": "0",
            "positionIM": "0",
            "seq": "1",
            "updatedTime": now,
            "side": "",
            "bustPrice": "",
            "positionBalance": "0",
            "leverageSysUpdatedTime": "",
            "size": "0",
            "positionStatus": "Normal",
            "mmrSysUpdatedTime": now,
            "stopLoss": "",
            "tradeMode": "0",
        }
        return {**flat, **values}

    def wallet(self, p: dict[str, Any]) -> web.Response:
        f = account_figures(self.account)
        wallet = f.wallet_balance + f.isolated_margin
        initial = sum((p.initial_margin for p in f.positions), ZERO)
        coin = {
            "availableToBorrow": "",
            "bonus": "0",
            "accruedInterest": "0",
            "availableToWithdraw": "",  # deprecated on unified accounts: always ""
            "totalOrderIM": "0",
            "equity": fmt(f.margin_balance),
            "totalPositionMM": fmt(f.maintenance_margin),
            "usdValue": fmt(f.margin_balance),
            "unrealisedPnl": fmt(f.unrealized_pnl),
            "collateralSwitch": True,
            "spotHedgingQty": "0",
            "borrowAmount": "0",
            "totalPositionIM": fmt(initial),
            "walletBalance": fmt(wallet),
            "cumRealisedPnl": "0",
            "locked": "0",
            "marginCollateral": True,
            "coin": "USDT",
        }
        equity = f.margin_balance
        return reply(
            {
                "list": [
                    {
                        "totalEquity": fmt(equity),
                        "accountIMRate": fmt(initial / equity) if equity > 0 else "0",
                        "totalMarginBalance": fmt(equity),
                        "totalInitialMargin": fmt(initial),
                        "accountType": "UNIFIED",
                        "totalAvailableBalance": fmt(f.available_balance),
                        "accountMMRate": fmt(f.margin_ratio or ZERO),
                        "totalPerpUPL": fmt(f.unrealized_pnl),
                        "totalWalletBalance": fmt(wallet),
                        "accountLTV": "0",
                        "totalMaintenanceMargin": fmt(f.maintenance_margin),
                        "coin": [coin],
                    }
                ]
            }
        )

    def set_margin_mode(self, p: dict[str, Any]) -> web.Response:
        """`POST /v5/account/set-margin-mode`: one margin mode for the whole unified account.

        The envelope of a refusal (retCode 3400045 with `reasons`) is Bybit's documented one;
        the reason codes below are the simulator's own, not confirmed exchange codes.
        """
        wanted = p.get("setMarginMode")
        modes = {"ISOLATED_MARGIN": MarginMode.ISOLATED, "REGULAR_MARGIN": MarginMode.CROSS}
        if wanted == "PORTFOLIO_MARGIN":
            return self._margin_mode_refused("3400000", "portfolio margin is not simulated")
        if wanted not in modes:
            return reply(code=10001, message="params error: setMarginMode invalid")
        busy = sorted(
            {f.symbol for f in account_figures(self.account).positions}
            | {
                o.symbol
                for o in self.engine.desks[self.ACCOUNT].orders.values()
                if o.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
            }
        )
        if busy and wanted != self.margin_mode:
            return self._margin_mode_refused(
                "3400001", f"positions or open orders on {', '.join(busy)}: close them first"
            )
        for symbol in sorted(self.account.instruments):
            if self.account.settings(symbol).margin_mode is not modes[wanted]:
                self.engine.step(SetMarginMode(self.ACCOUNT, symbol, modes[wanted], time.time_ns()))
        self.margin_mode = wanted
        return reply({"reasons": []}, message="Request accepted")

    @staticmethod
    def _margin_mode_refused(code: str, message: str) -> web.Response:
        return reply(
            {"reasons": [{"reasonCode": code, "reasonMsg": message}]},
            code=3400045,
            message="Set margin mode failed",
        )

    def leverage(self, p: dict[str, Any]) -> web.Response:
        value = Decimal(str(p.get("buyLeverage") or 0))
        symbol = p.get("symbol", "")
        if self.account.settings(symbol).leverage == value:
            return reply(code=110043, message="leverage not modified")
        [event] = self.engine.step(SetLeverage(self.ACCOUNT, symbol, value, time.time_ns()))
        if isinstance(event, CommandRefused):
            return reply(code=10001, message=f"leverage {fmt(value)} invalid")
        return reply({})
