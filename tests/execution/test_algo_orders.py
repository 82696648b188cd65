"""Binance conditional orders through the Algo Service, as the exchange takes them since
2025-12-09: real ccxt against the simulator's signed endpoints."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import pytest

from bot.core.orders.model import OrderRequest, OrderStatus, OrderType, PriceSource
from bot.core.values import OrderSide
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.testnet import mirror as mirrors
from bot.testnet.credentials import Credentials
from bot.testnet.events import MirrorFailed, OrderMirrored

FLAT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "hold_s": 60,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)
D = Decimal
SELL = OrderSide.SELL

CONDITIONAL = {
    "STOP_MARKET": OrderRequest(
        "BTCUSDT",
        SELL,
        OrderType.STOP_MARKET,
        D("0.01"),
        trigger_price=D(9000),
        trigger_source=PriceSource.MARK,
    ),
    "STOP": OrderRequest(
        "BTCUSDT", SELL, OrderType.STOP_LIMIT, D("0.01"), price=D(8990), trigger_price=D(9000)
    ),
    "TAKE_PROFIT_MARKET": OrderRequest(
        "BTCUSDT", SELL, OrderType.TAKE_PROFIT_MARKET, D("0.01"), trigger_price=D(11000)
    ),
    "TAKE_PROFIT": OrderRequest(
        "BTCUSDT",
        SELL,
        OrderType.TAKE_PROFIT_LIMIT,
        D("0.01"),
        price=D(11010),
        trigger_price=D(11000),
    ),
    "TRAILING_STOP_MARKET": OrderRequest(
        "BTCUSDT",
        SELL,
        OrderType.TRAILING_STOP_MARKET,
        D("0.01"),
        callback_rate=D("0.01"),
        activation_price=D(10500),
    ),
}

SIM_KEY = Credentials("sim-key", "sim-secret")


async def _mirror(sim: Simulator) -> mirrors.TestnetMirror:
    while not sim.board.symbols:
        await asyncio.sleep(0.02)
    mirror = mirrors.TestnetMirror(
        "d",
        "binance",
        mirrors.VENUES["binance"][0](SIM_KEY, sim.base_url()),
    )
    await mirror.start()
    return mirror


@pytest.mark.parametrize("wire_type", list(CONDITIONAL))
async def test_each_conditional_type_goes_to_the_algo_service_and_cancels(wire_type: str) -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        mirror = await _mirror(sim)
        try:
            placed = await mirror.place("d-7", CONDITIONAL[wire_type])
            assert isinstance(placed, OrderMirrored), placed
            assert placed.venue_status == "open"  # algoStatus NEW
            [open_algo] = await mirror.exchange.fapiPrivateGetOpenAlgoOrders({"symbol": "BTCUSDT"})
            assert (open_algo["orderType"], open_algo["clientAlgoId"]) == (wire_type, "d-7")
            assert open_algo["algoStatus"] == "NEW"
            assert await mirror.exchange.fapiPrivateGetOpenOrders({"symbol": "BTCUSDT"}) == []
            if wire_type == "TRAILING_STOP_MARKET":
                assert (open_algo["callbackRate"], open_algo["activatePrice"]) == ("1", "10500")
            else:
                assert D(open_algo["triggerPrice"]) == CONDITIONAL[wire_type].trigger_price
            cancelled = await mirror.cancel("d-7", "BTCUSDT")
            assert isinstance(cancelled, OrderMirrored), cancelled
        finally:
            await mirror.close()
        [order] = sim.rest.exchange.engine.desks["sim"].orders.values()
        assert order.status is OrderStatus.CANCELED
        assert "POST /fapi/v1/algoOrder" in sim.rest.requests
        assert "DELETE /fapi/v1/algoOrder" in sim.rest.requests
        assert "POST /fapi/v1/order" not in sim.rest.requests


async def test_plain_order_endpoint_refuses_conditional_types_with_4120() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        mirror = await _mirror(sim)
        try:
            with pytest.raises(ccxt.ExchangeError, match="-4120"):
                await mirror.exchange.fapiPrivatePostOrder(
                    {
                        "symbol": "BTCUSDT",
                        "side": "SELL",
                        "type": "STOP_MARKET",
                        "quantity": "0.01",
                        "stopPrice": "9000",
                    }
                )
            # A plain limit order and its cancel stay on /fapi/v1/order, without the flag.
            limit = OrderRequest("BTCUSDT", SELL, OrderType.LIMIT, D("0.01"), price=D(11000))
            assert isinstance(await mirror.place("d-1", limit), OrderMirrored)
            assert isinstance(await mirror.cancel("d-1", "BTCUSDT"), OrderMirrored)
            # An algo order is unknown to the plain cancel, as on the exchange.
            await mirror.place("d-2", CONDITIONAL["STOP_MARKET"])
            mirror._conditional.discard("d-2")
            failed = await mirror.cancel("d-2", "BTCUSDT")
            assert isinstance(failed, MirrorFailed)
            assert "-2011" in failed.reason
        finally:
            await mirror.close()
        assert "DELETE /fapi/v1/order" in sim.rest.requests


BYBIT_CONDITIONAL = {
    OrderType.STOP_MARKET: CONDITIONAL["STOP_MARKET"],
    OrderType.STOP_LIMIT: CONDITIONAL["STOP"],
    OrderType.TAKE_PROFIT_MARKET: CONDITIONAL["TAKE_PROFIT_MARKET"],
    OrderType.TAKE_PROFIT_LIMIT: CONDITIONAL["TAKE_PROFIT"],
}


@pytest.mark.parametrize("kind", list(BYBIT_CONDITIONAL), ids=lambda k: k.value)
async def test_each_bybit_conditional_type_is_created_and_cancelled(kind: OrderType) -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("bybit",))) as sim:
        while not sim.board.symbols:
            await asyncio.sleep(0.02)
        mirror = mirrors.TestnetMirror(
            "d",
            "bybit",
            mirrors.VENUES["bybit"][0](SIM_KEY, sim.base_url()),
        )
        await mirror.start()
        try:
            request = BYBIT_CONDITIONAL[kind]
            assert isinstance(await mirror.place("d-3", request), OrderMirrored)
            [order] = sim.rest.bybit.engine.desks["sim"].orders.values()
            assert (order.request.type, order.trigger) == (kind, request.trigger_price)
            statuses = [order.status]
            assert isinstance(await mirror.cancel("d-3", "BTCUSDT"), OrderMirrored)
            statuses.append(order.status)
            assert statuses == [OrderStatus.UNTRIGGERED, OrderStatus.CANCELED]
        finally:
            await mirror.close()


async def test_bybit_margin_mode_is_account_wide_and_refused_when_symbols_disagree() -> None:
    from bot.core.events import MarginModeChanged
    from bot.core.values import MarginMode

    async with Simulator(ScenarioSource(FLAT, venues=("bybit",))) as sim:
        while not sim.board.symbols:
            await asyncio.sleep(0.02)
        mirror = mirrors.TestnetMirror(
            "d",
            "bybit",
            mirrors.VENUES["bybit"][0](SIM_KEY, sim.base_url()),
        )
        await mirror.start()
        venue = sim.rest.bybit
        try:
            change = MarginModeChanged("BTCUSDT", MarginMode.ISOLATED)
            both = {"BTCUSDT": MarginMode.ISOLATED, "ETHUSDT": MarginMode.ISOLATED}
            assert isinstance(await mirror.setting(change, both), OrderMirrored)
            assert venue.margin_mode == "ISOLATED_MARGIN"
            assert venue.account.settings("ETHUSDT").margin_mode is MarginMode.ISOLATED
            split = {"BTCUSDT": MarginMode.ISOLATED, "ETHUSDT": MarginMode.CROSS}
            refused = await mirror.setting(change, split)
            assert isinstance(refused, MirrorFailed)
            assert refused.reason == (
                "a Bybit unified account has one margin mode for every symbol: BTCUSDT "
                "isolated cannot be mirrored while ETHUSDT is cross; set the same margin mode "
                "on every symbol of this account"
            )
            # With a position open, the venue refuses the switch in its own words.
            buy = OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, D("0.01"))
            assert isinstance(await mirror.place("d-1", buy), OrderMirrored)
            back = MarginModeChanged("BTCUSDT", MarginMode.CROSS)
            failed = await mirror.setting(back, {"BTCUSDT": MarginMode.CROSS})
            assert isinstance(failed, MirrorFailed)
            assert "3400045" in failed.reason
            assert venue.margin_mode == "ISOLATED_MARGIN"
        finally:
            await mirror.close()
