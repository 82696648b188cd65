"""The simulator's OKX v5 endpoints for USDT swaps in demo trading: public instruments, tiers
and time, and the private trading account (single-currency margin, one-way or long/short
mode), an account run by marginbot's own engine behind OKX's wire format.

Checked against ccxt 4.5.90 (`ccxt/async_support/okx.py`: `sign`, `create_order_request`,
`cancel_order(s)`, `fetch_positions`, `parse_position`, `parse_trading_balance`,
`fetch_leverage`, `set_leverage`) and the answer samples kept in its comments (OKX's own
answers, MIT), and OKX's API docs v5 (www.okx.com/docs-v5/en), 2026-12-06:

- Auth: headers OK-ACCESS-KEY, OK-ACCESS-PASSPHRASE, OK-ACCESS-TIMESTAMP (ISO 8601, UTC, ms) and
  OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + method + request path with its query
  + body)); demo trading adds `x-simulated-trading: 1`. Errors (HTTP 200 or 401 with a `code`):
  50111 invalid OK-ACCESS-KEY, 50105 wrong passphrase, 50113 invalid signature, 50102
  timestamp expired, 50101 key of the other environment (demo vs live).
- Envelope `{"code": "0", "msg": "", "data": [...]}`; an order refused carries `code` "1" and
  the reason in `data[0].sCode`/`sMsg`: 51008 insufficient margin, 51000 parameter error,
  51001 instrument does not exist, 51121 size not a multiple of the lot, 51169 reduce-only
  without a position to reduce, 51400 cancellation failed (the order does not exist).
- Sizes (`sz`, `pos`) are in contracts of `ctVal` base units; the engine keeps base units.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from bot.core.commands import CancelOrder, PlaceOrder, SetLeverage, SetMarginMode
from bot.core.engine import Engine
from bot.core.engine_events import CommandRefused, OrderAccepted, OrderRejected
from bot.core.instruments import Instrument, MaintenanceTier, TierTable
from bot.core.ledger.account import DEFAULT_FEES, Account
from bot.core.ledger.figures import PositionFigures, account_figures
from bot.core.orders.model import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PriceSource,
    TimeInForce,
    triggered_type,
)
from bot.core.prices import PriceBoard
from bot.core.values import ZERO, MarginMode, OrderSide, PositionSlot, Side, Venue, fmt
from bot.markets.snapshot import bundled_for

TIMESTAMP_WINDOW_S = 30  # OKX: a request older than 30 s is refused (50102)
# Swaps the recorded instruments list but the bundled snapshot has no tiers for: the
# simulator's own test table (sizes in base units), not an exchange fact.
SIM_TIERS = TierTable(
    (
        MaintenanceTier(ZERO, Decimal(100), Decimal("0.004"), ZERO, Decimal(100)),
        MaintenanceTier(Decimal(100), None, Decimal("0.01"), ZERO, Decimal(50)),
    )
)
CODES = {
    "insufficient_margin": ("51008", "Order failed. Insufficient USDT margin in account"),
    "reduce_only_would_increase": ("51169", "Order failed because you don't have any positions"),
    "unknown_symbol": ("51001", "Instrument ID does not exist"),
    "lot_size": ("51121", "Order quantity must be a multiple of the lot size"),
    "min_qty": ("51020", "Your order should meet or exceed the minimum order amount"),
    "tick_size": ("51000", "Parameter px error"),
}
GREEKS = ("deltaBS", "deltaPA", "gammaBS", "gammaPA", "thetaBS", "thetaPA", "vegaBS", "vegaPA")
TRIGGER_SOURCES = {"mark": PriceSource.MARK, "last": PriceSource.LAST, "index": PriceSource.INDEX}


def okx_instruments(listing: dict[str, Any]) -> dict[str, Instrument]:
    """The swaps of the recorded `public/instruments` answer, in base units; the bundled
    tiers where the snapshot has them (so that a daemon using the bundle agrees), else
    SIM_TIERS."""
    bundled = bundled_for(Venue.OKX)
    instruments = {}
    for item in listing["data"]:
        contract = Decimal(item["ctVal"])
        inst_id = item["instId"]
        instruments[inst_id] = Instrument(
            Venue.OKX,
            inst_id,
            item["ctValCcy"],
            item["settleCcy"],
            item["settleCcy"],
            bundled[inst_id].tiers if inst_id in bundled else SIM_TIERS,
            Decimal(item["tickSz"]),
            Decimal(item["lotSz"]) * contract,
            Decimal(item["minSz"]) * contract,
            ZERO,
            Decimal(item["lever"]),
            contract_value=contract,
            tiers_by_quantity=True,
        )
    return instruments


def ok(data: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"code": "0", "msg": "", "data": data})


def failed(code: str, message: str, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": message, "data": []}, status=status)


def refused(s_code: str, s_msg: str, **ids: str) -> web.Response:
    """An order-level refusal: the envelope fails as a whole, the reason is per order."""
    row = {"clOrdId": "", "ordId": "", "tag": "", **ids, "sCode": s_code, "sMsg": s_msg}
    return web.json_response({"code": "1", "msg": "All operations failed", "data": [row]})


def _iso_ms(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()  # "…Z" is read as UTC (3.11+)
    except ValueError:
        return None


class SimOkxExchange:
    ACCOUNT = "sim"

    def __init__(
        self,
        listing: dict[str, Any],
        board: PriceBoard,
        api_key: str,
        api_secret: str,
        passphrase: str,
        wallet_balance: Decimal = Decimal(10_000),
    ) -> None:
        self.listing = listing
        self.board = board
        self.api_key = api_key
        self.api_secret = api_secret
        self.passphrase = passphrase
        self.clock_offset_s = 0.0
        account = Account(
            Venue.OKX, okx_instruments(listing), wallet_balance, fees=DEFAULT_FEES[Venue.OKX]
        )
        self.engine = Engine({self.ACCOUNT: account})
        self.client_ids: dict[str, str] = {}  # clOrdId -> engine order id
        self.algo: set[str] = set()  # engine ids of algo (trigger) orders

    @property
    def account(self) -> Account:
        return self.engine.desks[self.ACCOUNT].account

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v5/public/time", self.public_time),
            web.get("/api/v5/public/instruments", self.public_instruments),
            web.get("/api/v5/public/position-tiers", self.position_tiers),
            web.post("/api/v5/trade/batch-orders", self._private(self.batch_orders)),
            web.post("/api/v5/trade/order", self._private(self.order)),
            web.post("/api/v5/trade/order-algo", self._private(self.order_algo)),
            web.post("/api/v5/trade/cancel-order", self._private(self.cancel_order)),
            web.post("/api/v5/trade/cancel-algos", self._private(self.cancel_algos)),
            web.get("/api/v5/trade/orders-pending", self._private(self.orders_pending)),
            web.get("/api/v5/account/positions", self._private(self.positions)),
            web.get("/api/v5/account/balance", self._private(self.balance)),
            web.post("/api/v5/account/set-leverage", self._private(self.set_leverage)),
            web.get("/api/v5/account/leverage-info", self._private(self.leverage_info)),
            web.get("/api/v5/account/config", self._private(self.config)),
        ]

    # -- public ---------------------------------------------------------------------------------

    async def public_time(self, request: web.Request) -> web.Response:  # noqa: ARG002
        return ok([{"ts": str(int(time.time() * 1000))}])

    async def public_instruments(self, request: web.Request) -> web.Response:
        kind = request.query.get("instType")
        if kind not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            return failed("51000", "Parameter instType error")
        rows = self.listing["data"] if kind == "SWAP" else []
        wanted = request.query.get("instId")
        return ok([r for r in rows if wanted in (None, r["instId"])])

    async def position_tiers(self, request: web.Request) -> web.Response:
        """`GET /api/v5/public/position-tiers`: tiers in contracts, for an instrument family
        (`instFamily` or `uly`, e.g. ADA-USDT) of swaps."""
        family = request.query.get("instFamily") or request.query.get("uly")
        rows = []
        for instrument in self.account.instruments.values():
            if family not in (None, instrument.symbol.removesuffix("-SWAP")):
                continue
            contract = instrument.contract_value or Decimal(1)
            for number, tier in enumerate(instrument.tiers.tiers, 1):
                cap = tier.notional_cap
                rows.append(
                    {
                        "uly": instrument.symbol.removesuffix("-SWAP"),
                        "instFamily": instrument.symbol.removesuffix("-SWAP"),
                        "instId": "",
                        "tier": str(number),
                        "minSz": fmt(tier.notional_floor / contract),
                        "maxSz": fmt(cap / contract - 1) if cap is not None else "",
                        "mmr": fmt(tier.maint_margin_rate),
                        "imr": fmt(1 / tier.max_leverage) if tier.max_leverage else "",
                        "maxLever": fmt(tier.max_leverage) if tier.max_leverage else "",
                        "optMgnFactor": "0",
                        "quoteMaxLoan": "",
                        "baseMaxLoan": "",
                    }
                )
        return ok(rows)

    # -- auth -----------------------------------------------------------------------------------

    def _refusal(self, request: web.Request, body: str) -> web.Response | None:
        """Why OKX would refuse this request's credentials, or None."""
        headers = request.headers
        if headers.get("OK-ACCESS-KEY") != self.api_key:
            return failed("50111", "Invalid OK-ACCESS-KEY", 401)
        if headers.get("x-simulated-trading") != "1":
            return failed("50101", "APIKey does not match current environment", 401)
        if headers.get("OK-ACCESS-PASSPHRASE") != self.passphrase:
            return failed("50105", "Invalid OK-ACCESS-PASSPHRASE", 401)
        stamp = headers.get("OK-ACCESS-TIMESTAMP", "")
        message = stamp + request.method + request.path_qs + body
        digest = hmac.new(self.api_secret.encode(), message.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(
            headers.get("OK-ACCESS-SIGN", ""), base64.b64encode(digest).decode()
        ):
            return failed("50113", "Invalid Sign", 401)
        sent = _iso_ms(stamp)
        if sent is None or abs(time.time() + self.clock_offset_s - sent) > TIMESTAMP_WINDOW_S:
            return failed("50102", "Timestamp request expired", 401)
        return None

    def _private(self, handler: Any) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            body = await request.text()
            refusal = self._refusal(request, body)
            if refusal is not None:
                return refusal
            try:
                params: Any = json.loads(body) if body else dict(request.query)
            except json.JSONDecodeError:
                return failed("50002", "JSON syntax error")
            try:
                result: web.Response = handler(params)
            except (AttributeError, KeyError, TypeError, ValueError):
                # A body of the wrong shape (a list for one order, a number for a field).
                return failed("50014", "Parameter error: the body is not what this path takes")
            return result

        return endpoint

    # -- orders ---------------------------------------------------------------------------------

    def _contracts(self, inst_id: str, raw: object) -> Decimal | None:
        """`sz` in contracts → base units; None when it is not a positive multiple of the lot."""
        try:
            size = Decimal(str(raw))
        except InvalidOperation:
            return None
        contract = self.account.instruments[inst_id].contract_value or Decimal(1)
        return size * contract if size > 0 else None

    def _place(self, p: dict[str, Any], kind: OrderType, **fields: Any) -> web.Response:
        inst_id = str(p.get("instId", ""))
        client_id = str(p.get("clOrdId") or p.get("algoClOrdId") or "") or None
        ids = {"clOrdId": client_id or ""}
        if inst_id not in self.account.instruments:
            return refused(*CODES["unknown_symbol"], **ids)
        modes = {"cross": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}
        mode = modes.get(str(p.get("tdMode")))
        if mode is None:
            return refused("51000", "Parameter tdMode error ", **ids)
        if self.account.settings(inst_id).margin_mode is not mode:
            if self.account.positions_of(inst_id):
                return refused("51000", "Parameter tdMode error ", **ids)
            self.engine.step(SetMarginMode(self.ACCOUNT, inst_id, mode, time.time_ns()))
        qty = self._contracts(inst_id, p.get("sz"))
        if qty is None and not fields.get("close_position"):
            return refused("51000", "Parameter sz error", **ids)
        side = OrderSide.BUY if p.get("side") == "buy" else OrderSide.SELL
        slot = {"long": PositionSlot.LONG, "short": PositionSlot.SHORT}.get(
            str(p.get("posSide", "net")), PositionSlot.BOTH
        )
        reduce_only = str(p.get("reduceOnly")).lower() == "true"
        request = OrderRequest(
            symbol=inst_id,
            side=side,
            type=kind,
            qty=qty,
            slot=slot,
            reduce_only=reduce_only,
            client_id=client_id,
            **fields,
        )
        events = self.engine.step(PlaceOrder(self.ACCOUNT, request, time.time_ns()))
        for event in events:
            if isinstance(event, OrderRejected):
                code, message = CODES.get(event.code, ("51000", event.reason))
                return refused(code, message, **ids)
        accepted = next(e for e in events if isinstance(e, OrderAccepted))
        if client_id:
            self.client_ids[client_id] = accepted.order_id
        wire = accepted.order_id.rsplit("-", 1)[1]
        if kind.triggered:
            self.algo.add(accepted.order_id)
            row = {"algoId": wire, "algoClOrdId": client_id or "", **ids}
        else:
            row = {"ordId": wire, **ids}
        return ok([{**row, "tag": "", "sCode": "0", "sMsg": "Order placed"}])

    def _plain(self, p: dict[str, Any]) -> web.Response:
        """`ordType`: market, limit, post_only, ioc, fok, optimal_limit_ioc."""
        kind = str(p.get("ordType"))
        if kind in ("market", "optimal_limit_ioc"):
            return self._place(p, OrderType.MARKET)
        tif = {
            "limit": TimeInForce.GTC,
            "post_only": TimeInForce.POST_ONLY,
            "ioc": TimeInForce.IOC,
            "fok": TimeInForce.FOK,
        }.get(kind)
        if tif is None:
            return refused("51000", "Parameter ordType error", clOrdId=str(p.get("clOrdId", "")))
        try:
            px = Decimal(str(p.get("px")))
        except InvalidOperation:
            return refused("51000", "Parameter px error", clOrdId=str(p.get("clOrdId", "")))
        return self._place(p, OrderType.LIMIT, price=px, time_in_force=tif)

    def order(self, p: dict[str, Any]) -> web.Response:
        return self._plain(p)

    def batch_orders(self, p: list[dict[str, Any]] | dict[str, Any]) -> web.Response:
        """ccxt sends single orders through `batch-orders` as a list of one."""
        orders = p if isinstance(p, list) else [p]
        if len(orders) != 1:
            return failed("51000", "the simulator takes one order per batch")
        return self._plain(orders[0])

    def order_algo(self, p: dict[str, Any]) -> web.Response:
        """`trigger` (triggerPx, orderPx −1 for market, triggerPxType last/mark/index) and
        `move_order_stop` (callbackRatio, activePx). A trigger order fires on whichever side of
        the current price its trigger lies, as OKX's does."""
        kind = p.get("ordType")
        inst_id = str(p.get("instId", ""))
        ids = {
            "clOrdId": str(p.get("clOrdId") or ""),
            "algoClOrdId": str(p.get("algoClOrdId") or ""),
        }
        if kind == "move_order_stop":
            try:
                rate = Decimal(str(p.get("callbackRatio")))
                active = Decimal(str(p["activePx"])) if p.get("activePx") else None
            except InvalidOperation:
                return refused("51000", "Parameter callbackRatio error", **ids)
            return self._place(
                p, OrderType.TRAILING_STOP_MARKET, callback_rate=rate, activation_price=active
            )
        if kind != "trigger":
            return refused(
                "51000", f"ordType {kind} is not simulated (trigger, move_order_stop)", **ids
            )
        try:
            trigger = Decimal(str(p.get("triggerPx")))
            order_px = Decimal(str(p.get("orderPx", "-1")))
        except InvalidOperation:
            return refused("51000", "Parameter triggerPx error", **ids)
        source = TRIGGER_SOURCES.get(str(p.get("triggerPxType", "last")), PriceSource.LAST)
        prices = self.board.get("okx", inst_id)
        now = None
        if prices is not None:
            now = prices.mark if source is PriceSource.MARK else prices.last
        if now is None:
            return refused("51000", "no price yet for the trigger's direction", **ids)
        buy = p.get("side") == "buy"
        rises = trigger > now
        stop = rises == buy  # a buy firing on a rise, or a sell on a fall: a stop
        limit = order_px != Decimal(-1)
        fields: dict[str, Any] = {"trigger_price": trigger, "trigger_source": source}
        if limit:
            fields["price"] = order_px
        return self._place(p, triggered_type(stop, limit), **fields)

    def _find(self, p: dict[str, Any], *, algo: bool) -> Order | None:
        desk = self.engine.desks[self.ACCOUNT]
        client = p.get("algoClOrdId") if algo else p.get("clOrdId")
        wire = p.get("algoId") if algo else p.get("ordId")
        order_id = self.client_ids.get(str(client or "")) or f"{self.ACCOUNT}-{wire}"
        order = desk.orders.get(order_id)
        if order is None or (order.id in self.algo) != algo:
            return None
        if order.status not in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED):
            return None
        return order

    def cancel_order(self, p: dict[str, Any]) -> web.Response:
        order = self._find(p, algo=False)
        if order is None:
            return refused("51400", "Order cancellation failed as the order does not exist")
        self.engine.step(CancelOrder(self.ACCOUNT, order.id, time.time_ns()))
        wire = order.id.rsplit("-", 1)[1]
        client = order.request.client_id or ""
        return ok([{"ordId": wire, "clOrdId": client, "sCode": "0", "sMsg": ""}])

    def cancel_algos(self, p: list[dict[str, Any]] | dict[str, Any]) -> web.Response:
        rows = []
        for item in p if isinstance(p, list) else [p]:
            order = self._find(item, algo=True)
            if order is None:
                return refused("51400", "Order cancellation failed as the order does not exist")
            self.engine.step(CancelOrder(self.ACCOUNT, order.id, time.time_ns()))
            rows.append({"algoId": order.id.rsplit("-", 1)[1], "sCode": "0", "sMsg": ""})
        return ok(rows)

    def orders_pending(self, p: dict[str, Any]) -> web.Response:
        desk = self.engine.desks[self.ACCOUNT]
        rows = []
        for order in desk.orders.values():
            if order.status is not OrderStatus.OPEN or order.id in self.algo:
                continue
            r = order.request
            contract = self.account.instruments[r.symbol].contract_value or Decimal(1)
            rows.append(
                {
                    "instType": "SWAP",
                    "instId": r.symbol,
                    "ordId": order.id.rsplit("-", 1)[1],
                    "clOrdId": r.client_id or "",
                    "px": fmt(r.price) if r.price is not None else "",
                    "sz": fmt((r.qty or ZERO) / contract),
                    "ordType": "limit" if r.price is not None else "market",
                    "side": r.side.value,
                    "posSide": "net" if r.slot is PositionSlot.BOTH else r.slot.value,
                    "tdMode": self.account.settings(r.symbol).margin_mode.value,
                    "state": "live",
                    "reduceOnly": str(r.reduce_only).lower(),
                    "accFillSz": "0",
                    "cTime": str(int(time.time() * 1000)),
                    "uTime": str(int(time.time() * 1000)),
                }
            )
        return ok([r for r in rows if p.get("instId") in (None, r["instId"])])

    # -- account --------------------------------------------------------------------------------

    def _position_row(self, f: PositionFigures) -> dict[str, Any]:
        """`GET /api/v5/account/positions` row (shape: the sample in ccxt's `parse_position`).
        `pos` is signed in one-way (net) mode; `mmr` is OKX's maintenance margin without the
        fee to close; `mgnRatio` is equity / (maintenance margin + fee), liquidation at 1."""
        contract = self.account.instruments[f.symbol].contract_value or Decimal(1)
        contracts = f.qty / contract
        net = f.slot is PositionSlot.BOTH
        balance = f.margin_balance
        requirement = f.maintenance_margin
        now = str(int(time.time() * 1000))
        return {
            "instType": "SWAP",
            "instId": f.symbol,
            "posId": f"{f.symbol}-{f.slot.value}",
            "posSide": "net" if net else f.side.value,
            "pos": fmt(contracts if f.side is Side.LONG or not net else -contracts),
            "availPos": fmt(contracts),
            "posCcy": "",
            "ccy": "USDT",
            "mgnMode": f.margin_mode.value,
            "avgPx": fmt(f.entry_price),
            "markPx": fmt(f.mark_price),
            "last": fmt(f.mark_price),
            "lever": fmt(f.leverage),
            "liqPx": fmt(f.liquidation_price) if f.liquidation_price is not None else "",
            "margin": fmt(f.isolated_margin) if f.margin_mode is MarginMode.ISOLATED else "",
            "imr": fmt(f.initial_margin) if f.margin_mode is MarginMode.CROSS else "",
            "mmr": fmt(requirement - f.close_fee),
            "mgnRatio": fmt(balance / requirement) if requirement > 0 else "",
            "notionalUsd": fmt(f.notional),
            "upl": fmt(f.unrealized_pnl),
            "uplRatio": "0",
            "adl": "1",
            "interest": "0",
            "liab": "",
            "liabCcy": "",
            "optVal": "",
            **dict.fromkeys(GREEKS, ""),  # options only: empty on a swap
            "tradeId": "1",
            "cTime": now,
            "uTime": now,
        }

    def positions(self, p: dict[str, Any]) -> web.Response:
        wanted = str(p["instId"]).split(",") if p.get("instId") else None
        rows = [
            self._position_row(f)
            for f in account_figures(self.account).positions
            if wanted is None or f.symbol in wanted
        ]
        return ok(rows)

    def balance(self, p: dict[str, Any]) -> web.Response:  # noqa: ARG002
        """`GET /api/v5/account/balance` (shape: the sample in ccxt's `fetch_balance`).
        `cashBal` is the USDT cash balance, isolated margins included; `eq` adds the
        unrealized PnL; `isoEq` is the isolated positions' equity."""
        f = account_figures(self.account)
        isolated = [x for x in f.positions if x.margin_mode is MarginMode.ISOLATED]
        iso_eq = sum((x.isolated_margin + x.unrealized_pnl for x in isolated), ZERO)
        now = str(int(time.time() * 1000))
        detail = {
            "ccy": "USDT",
            "cashBal": fmt(f.wallet_balance + f.isolated_margin),
            "eq": fmt(f.margin_balance),
            "availBal": fmt(f.available_balance),
            "availEq": fmt(f.available_balance),
            "frozenBal": fmt(f.isolated_margin),
            "ordFrozen": "0",
            "isoEq": fmt(iso_eq),
            "upl": fmt(f.unrealized_pnl),
            "disEq": fmt(f.margin_balance),
            "eqUsd": fmt(f.margin_balance),
            "mgnRatio": "",
            "notionalLever": "0",
            "crossLiab": "",
            "isoLiab": "",
            "liab": "",
            "uplLiab": "",
            "interest": "",
            "maxLoan": "",
            "twap": "0",
            "uTime": now,
        }
        return ok(
            [
                {
                    "totalEq": fmt(f.margin_balance),
                    "isoEq": fmt(iso_eq),
                    "adjEq": "",
                    "imr": "",
                    "mmr": "",
                    "mgnRatio": "",
                    "notionalUsd": "",
                    "ordFroz": "",
                    "uTime": now,
                    "details": [detail],
                }
            ]
        )

    def set_leverage(self, p: dict[str, Any]) -> web.Response:
        """`POST /api/v5/account/set-leverage` {instId, lever, mgnMode}: per instrument and
        margin mode; the simulator keeps one leverage per instrument."""
        inst_id = str(p.get("instId", ""))
        mode = p.get("mgnMode")
        if inst_id not in self.account.instruments or mode not in ("cross", "isolated"):
            return failed("51000", "Parameter instId or mgnMode error")
        try:
            lever = Decimal(str(p.get("lever")))
        except InvalidOperation:
            return failed("51000", "Parameter lever error")
        [event] = self.engine.step(SetLeverage(self.ACCOUNT, inst_id, lever, time.time_ns()))
        if isinstance(event, CommandRefused):
            return failed("51000", f"Parameter lever error: {event.reason}")
        return ok([{"instId": inst_id, "lever": fmt(lever), "mgnMode": mode, "posSide": "net"}])

    def leverage_info(self, p: dict[str, Any]) -> web.Response:
        inst_id = str(p.get("instId", ""))
        if inst_id not in self.account.instruments:
            return failed("51001", "Instrument ID does not exist")
        lever = fmt(self.account.settings(inst_id).leverage)
        return ok(
            [
                {
                    "instId": inst_id,
                    "mgnMode": p.get("mgnMode", "cross"),
                    "posSide": "net",
                    "lever": lever,
                }
            ]
        )

    def config(self, p: dict[str, Any]) -> web.Response:  # noqa: ARG002
        mode = "net_mode" if self.account.position_mode.value == "one_way" else "long_short_mode"
        return ok(
            [
                {
                    "uid": "1",
                    "acctLv": "2",
                    "posMode": mode,
                    "autoLoan": False,
                    "greeksType": "PA",
                    "level": "Lv1",
                    "ctIsoMode": "automatic",
                    "mgnIsoMode": "automatic",
                }
            ]
        )
