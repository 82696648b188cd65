"""Real ccxt (async) against the simulator's REST endpoints over loopback."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest

from bot.core.values import Venue
from bot.markets.loader import load_instruments, point_at
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource

SCENARIO = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 20,
        "mark": [{"at": 0, "price": "10000"}, {"at": 60, "price": "9000"}],
        "last": [{"at": 0, "price": "10000"}, {"at": 60, "price": "9100"}],
    },
    "test",
)


async def started(sim: Simulator) -> None:
    while not sim.board.symbols:
        await asyncio.sleep(0.01)


async def test_binance_markets_ticker_and_signed_brackets() -> None:
    async with Simulator(ScenarioSource(SCENARIO)) as sim:
        await started(sim)
        exchange = ccxt_async.binanceusdm(
            {"apiKey": "sim-key", "secret": "sim-secret", "options": {"fetchCurrencies": False}}
        )
        point_at(exchange, sim.base_url())
        try:
            instruments = await load_instruments(exchange, Venue.BINANCE, ["BTCUSDT"])
            ticker = await exchange.fetch_ticker("BTC/USDT:USDT")
        finally:
            await exchange.close()
        btc = instruments["BTCUSDT"]
        assert btc.tick_size == Decimal("0.01")
        assert btc.tiers.tiers[0].max_leverage == 125
        assert btc.tiers.tiers[1].maint_amount == 50
        board_last = sim.board.get("binance", "BTCUSDT").last
        assert board_last is not None
        assert abs(Decimal(str(ticker["last"])) - board_last) < 50
        assert "GET /fapi/v1/leverageBracket" in sim.rest.requests


async def test_binance_bad_signature_is_refused() -> None:
    async with Simulator(ScenarioSource(SCENARIO)) as sim:
        exchange = ccxt_async.binanceusdm(
            {"apiKey": "sim-key", "secret": "wrong", "options": {"fetchCurrencies": False}}
        )
        point_at(exchange, sim.base_url())
        try:
            await exchange.load_markets()
            with pytest.raises(ccxt_async.ExchangeError, match="-1022"):
                await exchange.fetch_leverage_tiers(["BTC/USDT:USDT"])
        finally:
            await exchange.close()


async def test_bybit_markets_risk_limits_and_ticker() -> None:
    async with Simulator(ScenarioSource(SCENARIO)) as sim:
        await started(sim)
        exchange = ccxt_async.bybit(
            {"options": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}}}
        )
        point_at(exchange, sim.base_url())
        try:
            instruments = await load_instruments(exchange, Venue.BYBIT, ["BTCUSDT"])
            ticker = await exchange.fetch_ticker("BTC/USDT:USDT")
        finally:
            await exchange.close()
        btc = instruments["BTCUSDT"]
        assert btc.max_leverage == Decimal("100.00")
        assert [t.maint_margin_rate for t in btc.tiers.tiers] == [Decimal("0.005"), Decimal("0.01")]
        assert Decimal(str(ticker["info"]["markPrice"])) > 0
