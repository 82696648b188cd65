"""Venue differences as data: endpoints per network, topics, subscribe frames, keep-alive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class AppPing:
    """An application-level ping the venue requires from the client."""

    interval_s: float
    payload: str


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    ws_urls: Mapping[str, str]  # network -> public stream endpoint
    sim_path: str  # the endpoint's path on the local simulator
    topics: Callable[[str], list[str]]  # symbol -> topics to subscribe
    subscribe_frames: Callable[[list[str], int], list[str]]  # topics, request id -> frames
    app_ping: AppPing | None
    max_connection_age_s: float | None  # the venue closes older connections
    subscribe_on_url: bool = False

    def url(self, network: str, sim_base: str = "ws://127.0.0.1:8765") -> str:
        if network == "sim":
            return sim_base.rstrip("/") + self.sim_path
        try:
            return self.ws_urls[network]
        except KeyError:
            raise KeyError(
                f"{self.name} has no {network!r} network; choose one of "
                f"{', '.join(['sim', *self.ws_urls])}"
            ) from None


def _binance_topics(symbol: str) -> list[str]:
    s = symbol.lower()
    return [f"{s}@markPrice@1s", f"{s}@trade", f"{s}@bookTicker"]


def _binance_subscribe(topics: list[str], request_id: int) -> list[str]:
    # Binance USDⓈ-M: {"method":"SUBSCRIBE","params":[...],"id":n}; at most 200 streams a message
    # is a safe size (a connection takes up to 1024 streams).
    return [
        orjson.dumps(
            {"method": "SUBSCRIBE", "params": topics[i : i + 200], "id": request_id + i}
        ).decode()
        for i in range(0, len(topics), 200)
    ]


def _bybit_topics(symbol: str) -> list[str]:
    return [
        f"tickers.{symbol}",
        f"publicTrade.{symbol}",
        f"orderbook.1.{symbol}",
        f"allLiquidation.{symbol}",
    ]


def _bybit_subscribe(topics: list[str], request_id: int) -> list[str]:
    # Bybit v5: at most 10 args per subscribe request.
    return [
        orjson.dumps(
            {"op": "subscribe", "args": topics[i : i + 10], "req_id": str(request_id + i)}
        ).decode()
        for i in range(0, len(topics), 10)
    ]


def _okx_topics(symbol: str) -> list[str]:
    return [
        f"{channel}:{symbol}" for channel in ("mark-price", "trades", "tickers", "funding-rate")
    ]


def _okx_subscribe(topics: list[str], request_id: int) -> list[str]:
    args = [dict(zip(("channel", "instId"), t.split(":", 1), strict=True)) for t in topics]
    return [orjson.dumps({"id": str(request_id), "op": "subscribe", "args": args}).decode()]


BINANCE = VenueSpec(
    name="binance",
    ws_urls={
        "mainnet": "wss://fstream.binance.com/stream",
        "testnet": "wss://stream.binancefuture.com/stream",
    },
    sim_path="/stream",
    topics=_binance_topics,
    subscribe_frames=_binance_subscribe,
    app_ping=None,  # Binance pings; websockets answers with pongs
    max_connection_age_s=24 * 3600,  # "A single connection is only valid for 24 hours"
)

BYBIT = VenueSpec(
    name="bybit",
    ws_urls={
        "mainnet": "wss://stream.bybit.com/v5/public/linear",
        "testnet": "wss://stream-testnet.bybit.com/v5/public/linear",
    },
    sim_path="/v5/public/linear",
    topics=_bybit_topics,
    subscribe_frames=_bybit_subscribe,
    app_ping=AppPing(20.0, '{"op":"ping"}'),  # Bybit recommends a ping every 20 s
    max_connection_age_s=None,
)

OKX = VenueSpec(
    name="okx",
    ws_urls={
        "mainnet": "wss://ws.okx.com:8443/ws/v5/public",
        "demo": "wss://wspap.okx.com:8443/ws/v5/public",
    },
    sim_path="/ws/v5/public",
    topics=_okx_topics,
    subscribe_frames=_okx_subscribe,
    app_ping=AppPing(25.0, "ping"),  # OKX closes a connection silent for 30 s
    max_connection_age_s=None,
)

SPECS: dict[str, VenueSpec] = {spec.name: spec for spec in (BINANCE, BYBIT, OKX)}
