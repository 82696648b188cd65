"""The REST side of the simulator: enough of Binance USDⓈ-M, Bybit v5 and OKX v5 for ccxt.

Trading rules come from recorded exchange answers (bot/sim/data, see tools/build_sim_data.py);
tickers and mark prices from what the simulator is playing. The leverage brackets and risk limits
are the simulator's own tables: bundled maintenance tiers with maximum leverage set by the
simulator, and a two-tier Bybit risk limit. They are test data, not exchange facts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.core.prices import PriceBoard, SymbolPrices
from bot.core.values import Venue, fmt
from bot.markets.snapshot import bundled_for
from bot.sim.bybit_exchange import SimBybitExchange
from bot.sim.exchange import SimExchange
from bot.sim.okx_exchange import SimOkxExchange

RECV_WINDOW_MS = 5000


def _data(name: str) -> dict[str, Any]:
    text = resources.files("bot.sim").joinpath(f"data/{name}").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _binance_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "msg": message}, status=status)


def _bybit_ok(result: dict[str, Any]) -> web.Response:
    return web.json_response(
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": int(time.time() * 1000),
        }
    )


def _sim_max_leverage(rate: Decimal) -> int:
    """The simulator's bracket leverage: 1 / (2 × MMR), at most 125x."""
    return max(1, min(125, int(1 / (2 * rate))))


class RestApi:
    def __init__(
        self,
        board: PriceBoard,
        api_key: str,
        api_secret: str,
        exchange: SimExchange | None = None,
        passphrase: str = "sim-passphrase",  # noqa: S107 — the simulator's test passphrase (OKX)
    ) -> None:
        self.board = board
        self.exchange = exchange or SimExchange()
        self.api_key = api_key
        self.api_secret = api_secret
        self.requests: list[str] = []
        self.clock_offset_ms = 0  # tests move the exchange's clock to provoke -1021
        self.binance_info = _data("binance_exchange_info.json")
        self.bybit_instruments = _data("bybit_instruments.json")
        self.bybit = SimBybitExchange(self.bybit_instruments, api_key, api_secret)
        self.okx = SimOkxExchange(
            _data("okx_instruments.json"), board, api_key, api_secret, passphrase
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/fapi/v1/time", self.binance_time),
            web.get("/fapi/v1/ping", self.binance_ping),
            web.get("/fapi/v1/exchangeInfo", self.binance_exchange_info),
            web.get("/fapi/v1/ticker/24hr", self.binance_ticker),
            web.get("/fapi/v1/ticker/price", self.binance_price),
            web.get("/fapi/v1/premiumIndex", self.binance_premium_index),
            web.get("/fapi/v1/leverageBracket", self.binance_brackets),
            web.post("/fapi/v1/order", self._private(self.exchange.place)),
            web.delete("/fapi/v1/order", self._private(self.exchange.cancel)),
            web.get("/fapi/v1/openOrders", self._private(self.exchange.open_orders)),
            web.post("/fapi/v1/algoOrder", self._private(self.exchange.place_algo)),
            web.delete("/fapi/v1/algoOrder", self._private(self.exchange.cancel_algo)),
            web.get("/fapi/v1/algoOrder", self._private(self.exchange.query_algo)),
            web.get("/fapi/v1/openAlgoOrders", self._private(self.exchange.open_algo_orders)),
            web.get("/fapi/v3/positionRisk", self._private(self.exchange.positions)),
            web.get("/fapi/v2/positionRisk", self._private(self.exchange.positions)),
            web.get("/fapi/v3/account", self._private(self.exchange.account_info)),
            web.get("/fapi/v2/account", self._private(self.exchange.account_info)),
            web.post("/fapi/v1/leverage", self._private(self.exchange.leverage)),
            web.post("/fapi/v1/marginType", self._private(self.exchange.margin_type)),
            web.get("/fapi/v1/symbolConfig", self._private(self.exchange.symbol_config)),
            web.post("/fapi/v1/positionSide/dual", self._private(self.exchange.position_side)),
            web.get("/v5/market/time", self.bybit_time),
            web.get("/v5/market/instruments-info", self.bybit_instruments_info),
            web.get("/v5/market/tickers", self.bybit_tickers),
            web.get("/v5/market/risk-limit", self.bybit_risk_limit),
            web.get("/v5/asset/coin/query-info", self.bybit_coins),
            *self.bybit.routes(),
            *self.okx.routes(),
        ]

    @web.middleware
    async def log_requests(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        response: web.StreamResponse = await handler(request)
        return response

    # -- Binance -------------------------------------------------------------------------------

    def _prices(self, venue: str) -> dict[str, SymbolPrices]:
        return {s: p for (v, s), p in self.board.symbols.items() if v == venue}

    def _selected(self, request: web.Request, venue: str) -> dict[str, SymbolPrices]:
        prices = self._prices(venue)
        symbol = request.query.get("symbol")
        return {symbol: prices[symbol]} if symbol in prices else ({} if symbol else prices)

    async def binance_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def binance_ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def binance_exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response({**self.binance_info, "serverTime": int(time.time() * 1000)})

    def _unknown_symbol(self, request: web.Request, venue: str) -> bool:
        symbol = request.query.get("symbol")
        return symbol is not None and symbol not in self._prices(venue)

    async def binance_ticker(self, request: web.Request) -> web.Response:
        if self._unknown_symbol(request, "binance"):
            return _binance_error(400, -1121, "Invalid symbol.")
        now = int(time.time() * 1000)
        rows = [
            {
                "symbol": s,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": fmt(p.last or p.mark or Decimal(0)),
                "lastPrice": fmt(p.last or p.mark or Decimal(0)),
                "lastQty": "0",
                "openPrice": fmt(p.last or Decimal(0)),
                "highPrice": fmt(p.last or Decimal(0)),
                "lowPrice": fmt(p.last or Decimal(0)),
                "volume": "0",
                "quoteVolume": "0",
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }
            for s, p in self._selected(request, "binance").items()
        ]
        return web.json_response(rows[0] if "symbol" in request.query else rows)

    async def binance_price(self, request: web.Request) -> web.Response:
        if self._unknown_symbol(request, "binance"):
            return _binance_error(400, -1121, "Invalid symbol.")
        rows = [
            {"symbol": s, "price": fmt(p.last or Decimal(0)), "time": p.ts_event // 10**6}
            for s, p in self._selected(request, "binance").items()
        ]
        return web.json_response(rows[0] if "symbol" in request.query else rows)

    async def binance_premium_index(self, request: web.Request) -> web.Response:
        if self._unknown_symbol(request, "binance"):
            return _binance_error(400, -1121, "Invalid symbol.")
        now = int(time.time() * 1000)
        rows = [
            {
                "symbol": s,
                "markPrice": fmt(p.mark or Decimal(0)),
                "indexPrice": fmt(p.index or p.mark or Decimal(0)),
                "estimatedSettlePrice": fmt(p.mark or Decimal(0)),
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000,
                "time": now,
            }
            for s, p in self._selected(request, "binance").items()
        ]
        return web.json_response(rows[0] if "symbol" in request.query else rows)

    def _private(self, handler: Callable[[dict[str, str]], web.Response]) -> Any:
        """A SIGNED endpoint: the signature covers the query (GET, DELETE) or the body (POST)."""

        async def endpoint(request: web.Request) -> web.Response:
            text = await request.text() if request.method == "POST" else request.query_string
            refused = self.check_signature(request, text)
            if refused is not None:
                return refused
            params = dict(parse_qsl(text, keep_blank_values=True))
            if "symbol" in params and params["symbol"] not in bundled_for(Venue.BINANCE):
                return _binance_error(400, -1121, "Invalid symbol.")
            return handler(params)

        return endpoint

    def check_signature(self, request: web.Request, text: str | None = None) -> web.Response | None:
        """Binance SIGNED endpoints: API key header, HMAC-SHA256 of the payload, recvWindow."""
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return _binance_error(401, -2014, "API-key format invalid.")
        query = request.query_string if text is None else text
        payload, _, signature = query.rpartition("&signature=")
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(signature, expected):
            return _binance_error(400, -1022, "Signature for this request is not valid.")
        fields = dict(parse_qsl(payload))
        stamp = fields.get("timestamp", "")
        window = int(fields.get("recvWindow", RECV_WINDOW_MS))
        if (
            not stamp.isdigit()
            or abs(time.time() * 1000 + self.clock_offset_ms - int(stamp)) > window
        ):
            return _binance_error(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )
        return None

    async def binance_brackets(self, request: web.Request) -> web.Response:
        refused = self.check_signature(request)
        if refused is not None:
            return refused
        rows = []
        for symbol, instrument in bundled_for(Venue.BINANCE).items():
            brackets = [
                {
                    "bracket": i + 1,
                    "initialLeverage": _sim_max_leverage(t.maint_margin_rate),
                    "notionalCap": int(t.notional_cap) if t.notional_cap else 9_223_372_036_854,
                    "notionalFloor": int(t.notional_floor),
                    "maintMarginRatio": float(t.maint_margin_rate),
                    "cum": float(t.maint_amount),
                }
                for i, t in enumerate(instrument.tiers.tiers)
            ]
            rows.append({"symbol": symbol, "brackets": brackets})
        wanted = request.query.get("symbol")
        if wanted is not None:
            rows = [r for r in rows if r["symbol"] == wanted]
        return web.json_response(rows)

    # -- Bybit ---------------------------------------------------------------------------------

    async def bybit_time(self, request: web.Request) -> web.Response:
        now = time.time_ns()
        return _bybit_ok({"timeSecond": str(now // 10**9), "timeNano": str(now)})

    async def bybit_instruments_info(self, request: web.Request) -> web.Response:
        result = self.bybit_instruments["result"]
        if request.query.get("status") == "PreLaunch":
            result = {**result, "list": []}
        symbol = request.query.get("symbol")
        if symbol is not None:
            result = {**result, "list": [i for i in result["list"] if i["symbol"] == symbol]}
        return _bybit_ok(result)

    async def bybit_tickers(self, request: web.Request) -> web.Response:
        now = int(time.time() * 1000)
        rows = []
        for s, p in self._selected(request, "bybit").items():
            last = fmt(p.last or p.mark or Decimal(0))
            rows.append(
                {
                    "symbol": s,
                    "lastPrice": last,
                    "indexPrice": fmt(p.index or p.mark or Decimal(0)),
                    "markPrice": fmt(p.mark or Decimal(0)),
                    "prevPrice24h": last,
                    "price24hPcnt": "0",
                    "highPrice24h": last,
                    "lowPrice24h": last,
                    "prevPrice1h": last,
                    "openInterest": "0",
                    "openInterestValue": "0",
                    "turnover24h": "0",
                    "volume24h": "0",
                    "fundingRate": "0.0001",
                    "nextFundingTime": str((now // 28_800_000 + 1) * 28_800_000),
                    "predictedDeliveryPrice": "",  # a perpetual has no delivery
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1" if p.ask else "0",
                    "bid1Price": fmt(p.bid or Decimal(0)),
                    "ask1Price": fmt(p.ask or Decimal(0)),
                    "bid1Size": "1" if p.bid else "0",
                    "basis": "",
                }
            )
        return _bybit_ok({"category": "linear", "list": rows})

    async def bybit_coins(self, request: web.Request) -> web.Response:
        return _bybit_ok({"rows": []})  # ccxt asks before anything else when keys are set

    async def bybit_risk_limit(self, request: web.Request) -> web.Response:
        symbols = [i["symbol"] for i in self.bybit_instruments["result"]["list"]]
        wanted = request.query.get("symbol")
        rows = []
        for symbol in symbols:
            if wanted and symbol != wanted:
                continue
            rows += [
                {
                    "id": 1,
                    "symbol": symbol,
                    "riskLimitValue": "2000000",
                    "maintenanceMargin": "0.005",
                    "initialMargin": "0.01",
                    "isLowestRisk": 1,
                    "maxLeverage": "100.00",
                    "mmDeduction": "",
                },
                {
                    "id": 2,
                    "symbol": symbol,
                    "riskLimitValue": "4000000",
                    "maintenanceMargin": "0.01",
                    "initialMargin": "0.02",
                    "isLowestRisk": 0,
                    "maxLeverage": "50.00",
                    "mmDeduction": "10000",
                },
            ]
        return _bybit_ok({"category": "linear", "list": rows, "nextPageCursor": ""})
