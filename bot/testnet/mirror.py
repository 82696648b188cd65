"""Mirror an account's orders to the venue's testnet or demo environment through ccxt.

The local ledger still computes everything; the venue's answers are compared with it by the
reconciler. Binance USDⓈ-M: ccxt's `enable_demo_trading(True)` (ccxt deprecated the futures
testnet). Bybit: ccxt's `set_sandbox_mode(True)` (api-testnet). Bybit trails stops at position
level (trading-stop), so trailing-stop orders are not mirrored there. OKX: demo trading, ccxt's
`set_sandbox_mode(True)` (the `x-simulated-trading: 1` header); sizes go out in contracts, the
margin mode with every order (`tdMode`), conditional orders as algo `trigger` orders and
trailing stops as `move_order_stop`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from bot.core.events import LeverageChanged, MarginModeChanged
from bot.core.ledger.figures import AccountFigures
from bot.core.ledger.positions import SymbolSettings
from bot.core.orders.model import OrderRequest, OrderType, PriceSource, TimeInForce, fires_on_rise
from bot.core.values import MarginMode, PositionSlot
from bot.errors import MarginbotError
from bot.markets.loader import point_at
from bot.testnet.credentials import Credentials
from bot.testnet.errors import exchange_error
from bot.testnet.events import MirrorFailed, OrderMirrored, Reconciled, ReconciliationDrift
from bot.testnet.reconcile import Tolerance, compare, venue_wallet

BINANCE_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_MARKET",
    OrderType.STOP_LIMIT: "STOP",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
    OrderType.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET",
}
BINANCE_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTX",
}


def binance_exchange(credentials: Credentials, url: str | None) -> Any:
    exchange = ccxt_async.binanceusdm(
        {
            "apiKey": credentials.api_key,
            "secret": credentials.api_secret,
            "enableRateLimit": True,
            "options": {"fetchCurrencies": False},
        }
    )
    exchange.enable_demo_trading(True)
    if url is not None:
        point_at(exchange, url)
    return exchange


def bybit_exchange(credentials: Credentials, url: str | None) -> Any:
    exchange = ccxt_async.bybit(
        {
            "apiKey": credentials.api_key,
            "secret": credentials.api_secret,
            "enableRateLimit": True,
            "options": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}},
        }
    )
    exchange.set_sandbox_mode(True)
    if url is not None:
        point_at(exchange, url)
    return exchange


OKX_OPTIONS = {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}}


def okx_exchange(credentials: Credentials, url: str | None) -> Any:
    exchange = ccxt_async.okx(
        {
            "apiKey": credentials.api_key,
            "secret": credentials.api_secret,
            "password": credentials.passphrase,
            "enableRateLimit": True,
            "options": dict(OKX_OPTIONS),
        }
    )
    exchange.set_sandbox_mode(True)  # demo trading: `x-simulated-trading: 1`
    if url is not None:
        point_at(exchange, url)
    return exchange


OKX_SOURCES = {PriceSource.MARK: "mark", PriceSource.LAST: "last", PriceSource.INDEX: "index"}


def okx_params(order_id: str, request: OrderRequest) -> tuple[str, dict[str, Any]]:
    """The ccxt order type and parameters for OKX v5 (`trade/batch-orders`, `trade/order-algo`).

    The client id goes out without the engine's dash (OKX: clOrdId is 1–32 letters and
    digits). Stops and take-profits are `trigger` algo orders (ccxt `triggerPrice`, with
    `triggerPxType`); trailing stops `move_order_stop` (ccxt `trailingPercent`, `activePx`).
    The caller adds `marginMode` (OKX's `tdMode`), which OKX takes with every order.
    """
    params: dict[str, Any] = {"clientOrderId": okx_client_id(order_id)}
    kind = "limit" if request.price is not None else "market"
    if request.type is OrderType.TRAILING_STOP_MARKET:
        rate = request.callback_rate or Decimal(0)  # the engine requires one
        params["trailingPercent"] = str(rate * 100)
        if request.activation_price is not None:
            params["activePx"] = str(request.activation_price)
    elif request.trigger_price is not None:
        params["triggerPrice"] = str(request.trigger_price)
        params["triggerPxType"] = OKX_SOURCES[request.trigger_source]
    if kind == "limit" and not request.type.triggered:
        if request.time_in_force is TimeInForce.POST_ONLY:
            params["postOnly"] = True
        elif request.time_in_force is not TimeInForce.GTC:
            params["timeInForce"] = request.time_in_force.value.upper()
    if request.reduce_only or request.close_position:
        params["reduceOnly"] = True
    if request.slot is not PositionSlot.BOTH:
        params["positionSide"] = request.slot.value
    return kind, params


def okx_client_id(order_id: str) -> str:
    return "".join(ch for ch in order_id if ch.isalnum())[:32]


BYBIT_SOURCES = {
    PriceSource.MARK: "MarkPrice",
    PriceSource.LAST: "LastPrice",
    PriceSource.INDEX: "IndexPrice",
}
BYBIT_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "PO",
}


def bybit_params(order_id: str, request: OrderRequest) -> tuple[str, dict[str, Any]]:
    """The ccxt order type and parameters for Bybit v5 `POST /v5/order/create` (linear)."""
    if request.type is OrderType.TRAILING_STOP_MARKET:
        raise MarginbotError(
            "Bybit trails stops at position level (trading-stop), not as an "
            "order: this trailing stop stays local"
        )
    params: dict[str, Any] = {"clientOrderId": order_id}
    kind = "limit" if request.price is not None else "market"
    if kind == "limit":
        params["timeInForce"] = BYBIT_TIF[request.time_in_force]
    if request.trigger_price is not None:
        params["triggerPrice"] = str(request.trigger_price)
        params["triggerDirection"] = "ascending" if fires_on_rise(request) else "descending"
        params["triggerBy"] = BYBIT_SOURCES[request.trigger_source]
    if request.reduce_only or request.close_position:
        params["reduceOnly"] = True
    if request.close_position:
        params["closeOnTrigger"] = True
    if request.slot is not PositionSlot.BOTH:
        params["positionIdx"] = 1 if request.slot is PositionSlot.LONG else 2
    return kind, params


def binance_params(order_id: str, request: OrderRequest) -> tuple[str, dict[str, Any]]:
    """The Binance order type and parameters for a request.

    Plain orders go to `POST /fapi/v1/order`. A conditional one (stop, take-profit, trailing)
    carries `stopPrice` or `callbackRate`, which ccxt ≥ 4.5.4 (`is_conditional_order`) sends to
    the Algo Service, `POST /fapi/v1/algoOrder`, renaming the trigger, activation and client id
    fields there; `/fapi/v1/order` refuses those types with -4120 since 2025-12-09.
    """
    params: dict[str, Any] = {"newClientOrderId": order_id}
    if request.type is not OrderType.MARKET:
        params["timeInForce"] = BINANCE_TIF[request.time_in_force]
    if request.trigger_price is not None:
        params["stopPrice"] = str(request.trigger_price)
    if request.type.triggered:
        params["workingType"] = (
            "MARK_PRICE" if request.trigger_source is PriceSource.MARK else "CONTRACT_PRICE"
        )
    if request.reduce_only:
        params["reduceOnly"] = True
    if request.close_position:
        params["closePosition"] = True
    if request.slot is not PositionSlot.BOTH:
        params["positionSide"] = request.slot.value.upper()
    if request.callback_rate is not None:
        params["callbackRate"] = str(request.callback_rate * 100)
    if request.activation_price is not None:
        params["activationPrice"] = str(request.activation_price)
    return BINANCE_TYPES[request.type], params


def unified_margin_mode(change: MarginModeChanged, modes: Mapping[str, MarginMode]) -> MarginMode:
    """The account-wide margin mode a Bybit unified account must take for `change`.

    Bybit's Unified Trading Account sets the margin mode for the whole account
    (`POST /v5/account/set-margin-mode`: ISOLATED_MARGIN or REGULAR_MARGIN), where marginbot
    sets it per symbol; the two agree only while every symbol of the account has one mode.
    """
    wanted = change.margin_mode
    others = sorted(s for s, m in modes.items() if s != change.symbol and m is not wanted)
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        verb = "is" if len(others) == 1 else "are"
        other = MarginMode.CROSS if wanted is MarginMode.ISOLATED else MarginMode.ISOLATED
        raise MarginbotError(
            f"a Bybit unified account has one margin mode for every symbol: {change.symbol} "
            f"{wanted.value} cannot be mirrored while {shown} {verb} {other.value}; "
            "set the same margin mode on every symbol of this account"
        )
    return wanted


def public_exchange(
    venue: str, url: str | None, network: str, credentials: Credentials | None = None
) -> Any:
    """A ccxt exchange for market data (markets, risk limits) on `network`'s REST hosts.

    Binance's leverage brackets (`GET /fapi/v1/leverageBracket`) are USER_DATA: they need a
    key, which a testnet account's `credentials` give; Bybit's risk limits and OKX's position
    tiers are public.
    """
    key = {"apiKey": credentials.api_key, "secret": credentials.api_secret} if credentials else {}
    if venue == "okx":
        secret = {"password": credentials.passphrase} if credentials else {}
        exchange = ccxt_async.okx({**key, **secret, "options": dict(OKX_OPTIONS)})
        if network in ("demo", "sim"):  # the simulator plays OKX's demo trading
            exchange.set_sandbox_mode(True)
    elif venue == "binance":
        exchange = ccxt_async.binanceusdm({**key, "options": {"fetchCurrencies": False}})
        if network in ("testnet", "demo"):
            exchange.enable_demo_trading(True)  # ccxt deprecated the futures testnet
    else:
        exchange = ccxt_async.bybit(
            {**key, "options": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}}}
        )
        if network == "testnet":
            exchange.set_sandbox_mode(True)
        elif network == "demo":
            exchange.enable_demo_trading(True)
    if url is not None:
        point_at(exchange, url)
    return exchange


VENUES: dict[
    str,
    tuple[
        Callable[[Credentials, str | None], Any],
        Callable[[str, OrderRequest], tuple[str, dict[str, Any]]],
        str,
    ],
] = {
    "binance": (binance_exchange, binance_params, "origClientOrderId"),
    "bybit": (bybit_exchange, bybit_params, "orderLinkId"),
    "okx": (okx_exchange, okx_params, "clOrdId"),
}


class TestnetMirror:
    def __init__(
        self,
        account: str,
        venue: str,
        exchange: Any,
        settle: str = "USDT",
        tolerance: Tolerance | None = None,
    ) -> None:
        self.account = account
        self.venue = venue
        self.exchange = exchange
        self.settle = settle
        self.tolerance = tolerance or Tolerance()
        self.unified: dict[str, str] = {}
        self._params = VENUES[venue][1]
        self._cancel_key = VENUES[venue][2]
        self._conditional: set[str] = set()  # Binance: placed through the Algo Service
        self._algo_ids: dict[str, str] = {}  # OKX: our order id -> the venue's algoId
        self.contract_sizes: dict[str, Decimal] = {}  # market id -> base units per contract

    async def start(self) -> None:
        markets = await self.exchange.load_markets()
        linear = [m for m in markets.values() if m.get("swap") and m.get("linear")]
        self.unified = {m["id"]: m["symbol"] for m in linear}
        self.contract_sizes = {
            m["id"]: Decimal(repr(m.get("contractSize") or 1)).normalize() for m in linear
        }

    def _amount(self, symbol: str, qty: Decimal) -> float:
        """Base units on the wire, or contracts where the venue counts in them (OKX)."""
        if self.venue == "okx":
            return float(qty / self.contract_sizes.get(symbol, Decimal(1)))
        return float(qty)

    async def close(self) -> None:
        await self.exchange.close()

    def _symbol(self, symbol: str) -> str:
        try:
            return self.unified[symbol]
        except KeyError:
            raise MarginbotError(f"the exchange lists no linear perpetual {symbol}") from None

    async def place(
        self,
        order_id: str,
        request: OrderRequest,
        position_qty: Decimal | None = None,
        settings: SymbolSettings | None = None,
    ) -> OrderMirrored | MirrorFailed:
        """`position_qty` sizes a close-position order on venues that need a quantity;
        `settings` (the symbol's margin mode) goes with every order on OKX."""
        try:
            kind, params = self._params(order_id, request)
            qty = request.qty if request.qty is not None else position_qty
            if self.venue == "binance" and request.close_position:
                qty = None
            if self.venue == "okx":
                mode = settings.margin_mode if settings is not None else MarginMode.CROSS
                params["marginMode"] = mode.value
            amount = self._amount(request.symbol, qty) if qty is not None else None
            price = float(request.price) if request.price is not None else None
            answer = await self.exchange.create_order(
                self._symbol(request.symbol), kind, request.side.value, amount, price, params
            )
            if self.venue == "binance" and request.type.triggered:
                self._conditional.add(order_id)
            if self.venue == "okx" and request.type.triggered:
                self._algo_ids[order_id] = str(answer.get("id"))
        except MarginbotError as exc:
            return MirrorFailed(time.time_ns(), self.account, order_id, str(exc))
        except Exception as exc:  # ccxt raises many classes; all become our errors
            return MirrorFailed(time.time_ns(), self.account, order_id, str(exchange_error(exc)))
        return OrderMirrored(
            time.time_ns(), self.account, order_id, str(answer.get("id")), str(answer.get("status"))
        )

    async def setting(
        self,
        change: LeverageChanged | MarginModeChanged,
        modes: Mapping[str, MarginMode] | None = None,
        settings: SymbolSettings | None = None,
    ) -> OrderMirrored | MirrorFailed:
        """Send a leverage or margin-mode change to the venue (ccxt `set_leverage`,
        `set_margin_mode`). `modes`: the account's margin mode of every symbol it trades, which
        a Bybit unified account must agree on (`unified_margin_mode`). OKX keeps a leverage
        per instrument and margin mode and takes the mode with each order: both changes set
        the leverage for the symbol's mode (`settings`, as it stands after the change)."""
        if isinstance(change, LeverageChanged):
            label = f"leverage {change.symbol}"
        else:
            label = f"margin mode {change.symbol}"
        try:
            symbol = self._symbol(change.symbol)
            if self.venue == "okx":
                current = settings or SymbolSettings(MarginMode.CROSS, Decimal(1))
                mode = (
                    change.margin_mode
                    if isinstance(change, MarginModeChanged)
                    else current.margin_mode
                )
                leverage = (
                    change.leverage if isinstance(change, LeverageChanged) else current.leverage
                )
                await self.exchange.set_leverage(int(leverage), symbol, {"marginMode": mode.value})
            elif isinstance(change, LeverageChanged):
                await self.exchange.set_leverage(int(change.leverage), symbol)
            elif self.venue == "bybit":
                mode = unified_margin_mode(change, modes or {})
                # ccxt on a unified account: POST /v5/account/set-margin-mode, account-wide.
                await self.exchange.set_margin_mode(mode.value, symbol)
            else:
                await self.exchange.set_margin_mode(change.margin_mode.value, symbol)
        except MarginbotError as exc:
            return MirrorFailed(time.time_ns(), self.account, label, str(exc))
        except Exception as exc:
            return MirrorFailed(time.time_ns(), self.account, label, str(exchange_error(exc)))
        return OrderMirrored(time.time_ns(), self.account, label, "-", "set")

    async def cancel(self, order_id: str, symbol: str) -> OrderMirrored | MirrorFailed:
        params: dict[str, Any] = {self._cancel_key: order_id}
        venue_id: str | None = None
        if order_id in self._conditional:
            params["trigger"] = True  # ccxt: DELETE /fapi/v1/algoOrder with clientAlgoId
        if self.venue == "okx":
            params = {self._cancel_key: okx_client_id(order_id)}
            if order_id in self._algo_ids:  # OKX: POST trade/cancel-algos by algoId
                venue_id, params = self._algo_ids[order_id], {"trigger": True}
        try:
            answer = await self.exchange.cancel_order(venue_id, self._symbol(symbol), params)
            self._conditional.discard(order_id)
            self._algo_ids.pop(order_id, None)
        except MarginbotError as exc:
            return MirrorFailed(time.time_ns(), self.account, order_id, str(exc))
        except Exception as exc:
            return MirrorFailed(time.time_ns(), self.account, order_id, str(exchange_error(exc)))
        return OrderMirrored(
            time.time_ns(), self.account, order_id, str(answer.get("id")), str(answer.get("status"))
        )

    async def reconcile(
        self, figures: Callable[[], AccountFigures]
    ) -> list[Reconciled | ReconciliationDrift | MirrorFailed]:
        """Compare the venue's books with the local ledger as it stands when the venue has
        answered (not before: the ledger may move while the requests are in flight)."""
        before = figures()
        held = {
            f.symbol: self.unified[f.symbol] for f in before.positions if f.symbol in self.unified
        }
        try:
            positions = await self.exchange.fetch_positions(list(held.values()) or None)
            balance = await self.exchange.fetch_balance()
            leverages: dict[str, Decimal] = {}
            modes = {f.symbol: f.margin_mode.value for f in before.positions}
            for market_id, symbol in held.items():
                # OKX keeps a leverage per margin mode: ask for the position's.
                extra = {"marginMode": modes[market_id]} if self.venue == "okx" else {}
                answer = await self.exchange.fetch_leverage(symbol, extra)
                value = answer.get("longLeverage") or answer.get("shortLeverage")
                if value is not None:
                    leverages[market_id] = Decimal(repr(value)).normalize()
        except Exception as exc:
            return [
                MirrorFailed(time.time_ns(), self.account, "reconcile", str(exchange_error(exc)))
            ]
        now = time.time_ns()
        local = figures()
        market_ids = {unified: market_id for market_id, unified in self.unified.items()}
        drifts = compare(
            self.account,
            local,
            positions,
            venue_wallet(self.venue, balance, self.settle),
            self.settle,
            self.tolerance,
            leverages,
            market_ids,
        )
        if not drifts:
            return [Reconciled(now, self.account, len(local.positions))]
        return [ReconciliationDrift(now, self.account, d) for d in drifts]
