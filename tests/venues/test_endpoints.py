"""Streams go to the endpoint that serves them, on every network, as ccxt routes them; the
simulator serves today's paths and nothing on Binance's retired root."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from ccxt.pro import binanceusdm
from websockets.asyncio.client import connect

from bot.errors import ConfigError
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.venues.spec import BINANCE, BYBIT, OKX, binance_channel

# Every USDⓈ-M market stream channel marginbot could ask for.
CHANNELS = [
    "depth",
    "rpiDepth",
    "bookTicker",
    "trade",
    "aggTrade",
    "markPrice",
    "kline",
    "continuousKline",
    "miniTicker",
    "ticker",
    "forceOrder",
    "compositeIndex",
    "contractInfo",
    "assetIndex",
]


@pytest.mark.parametrize("channel", CHANNELS)
def test_binance_routing_table_agrees_with_the_installed_ccxt(channel: str) -> None:
    ccxt_category = binanceusdm().get_future_ws_category(channel)
    assert BINANCE.endpoint_of(f"btcusdt@{channel}") == ccxt_category


@pytest.mark.parametrize(
    ("topic", "channel"),
    [
        ("btcusdt@markPrice@1s", "markPrice"),
        ("btcusdt@depth20@100ms", "depth"),
        ("btcusdt@depth@0ms", "depth"),
        ("btcusdt@kline_1m", "kline"),
    ],
)
def test_binance_channel_of_a_topic(topic: str, channel: str) -> None:
    assert binance_channel(topic) == channel


@pytest.mark.parametrize(
    ("network", "host"),
    [
        ("mainnet", "wss://fstream.binance.com"),
        ("testnet", "wss://fstream.binancefuture.com"),
        ("demo", "wss://fstream.binancefuture.com"),
        ("sim", "ws://127.0.0.1:8765"),
    ],
)
def test_binance_feed_subscribes_book_and_trades_on_public_and_mark_on_market(
    network: str, host: str
) -> None:
    public, market = BINANCE.routes(network, ["BTCUSDT", "ETHUSDT"])
    assert public.url == (
        f"{host}/public/stream?streams="
        "btcusdt@trade/btcusdt@bookTicker/ethusdt@trade/ethusdt@bookTicker"
    )
    assert market.url == f"{host}/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
    assert (public.label, market.label) == ("binance.public", "binance.market")


def test_binance_hosts_are_ccxts() -> None:
    exchange = binanceusdm()
    mainnet = exchange.get_ws_url("linear", "market")
    assert BINANCE.endpoints[1].urls["mainnet"] == mainnet.removesuffix("/ws") + "/stream"
    exchange.enable_demo_trading(True)
    demo = exchange.urls["api"]["ws"]["linear"]
    assert BINANCE.endpoints[0].urls["demo"].startswith(demo.removesuffix("/ws"))


def test_a_connection_carries_at_most_1024_binance_streams() -> None:
    symbols = [f"S{i}USDT" for i in range(600)]
    routes = BINANCE.routes("mainnet", symbols)
    assert [(r.endpoint, len(r.topics)) for r in routes] == [
        ("public", 1024),
        ("public", 176),
        ("market", 600),
    ]


def test_url_overrides_are_bases_for_binance_and_whole_urls_elsewhere() -> None:
    [public, market] = BINANCE.routes("mainnet", ["BTCUSDT"], url="wss://proxy.example:9443")
    assert public.url.startswith("wss://proxy.example:9443/public/stream?streams=")
    assert market.url.startswith("wss://proxy.example:9443/market/stream?streams=")
    with pytest.raises(ConfigError, match="give the url as a base without a path"):
        BINANCE.routes("mainnet", ["BTCUSDT"], url="wss://fstream.binance.com/stream")
    with pytest.raises(ConfigError, match="not a websocket URL"):
        BYBIT.routes("mainnet", ["BTCUSDT"], url="https://example")
    [bybit] = BYBIT.routes("mainnet", ["BTCUSDT"], url="wss://mirror.example/v5/public/linear")
    assert bybit.url == "wss://mirror.example/v5/public/linear"
    with pytest.raises(ConfigError, match="okx has no 'testnet' network"):
        OKX.routes("testnet", ["BTC-USDT-SWAP"])


FLAT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 20,
        "hold_s": 30,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)


async def _frames(url: str, subscribe: list[str] | None = None, seconds: float = 0.6) -> list[dict]:
    """Every data frame a client gets on `url` within `seconds` (acks left out)."""
    received: list[dict] = []
    async with connect(url, compression=None, proxy=None) as ws:
        if subscribe is not None:
            await ws.send(
                orjson.dumps({"method": "SUBSCRIBE", "params": subscribe, "id": 1}).decode()
            )
        try:
            async with asyncio.timeout(seconds):
                async for frame in ws:
                    document = orjson.loads(frame)
                    if "result" not in document:
                        received.append(document)
        except TimeoutError:
            pass
    return received


async def test_the_simulator_serves_each_stream_on_its_own_endpoint_only() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        base = sim.base_url("ws")
        market = await _frames(f"{base}/market/stream?streams=btcusdt@markPrice@1s/btcusdt@trade")
        public = await _frames(f"{base}/public/stream?streams=btcusdt@markPrice@1s/btcusdt@trade")
        by_subscribe = await _frames(f"{base}/public/stream", ["btcusdt@trade"])
        raw = await _frames(f"{base}/market/ws/btcusdt@markPrice@1s")
    assert market
    assert {f["stream"] for f in market} == {"btcusdt@markPrice@1s"}
    assert public
    assert {f["stream"] for f in public} == {"btcusdt@trade"}
    assert by_subscribe
    assert {f["stream"] for f in by_subscribe} == {"btcusdt@trade"}
    assert raw
    assert {f["e"] for f in raw} == {"markPriceUpdate"}


async def test_the_simulator_sends_nothing_on_binances_retired_root() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        base = sim.base_url("ws")
        legacy = await _frames(f"{base}/stream?streams=btcusdt@markPrice@1s/btcusdt@trade")
        legacy_subscribed = await _frames(f"{base}/stream", ["btcusdt@markPrice@1s"])
        control = await _frames(f"{base}/market/stream?streams=btcusdt@markPrice@1s")
    assert legacy == []
    assert legacy_subscribed == []
    assert control  # the same stream on today's path flows
