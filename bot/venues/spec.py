"""Venue differences as data: endpoints per network, which stream goes where, subscribe frames,
keep-alive. docs/venues.md lists every endpoint with its source and the date it was checked.

A venue may serve its public streams from more than one endpoint: Binance USDⓈ-M split its
websocket in 2026 into `/public` (high-frequency: depth, rpiDepth, bookTicker, trade) and
`/market` (everything else: markPrice, aggTrade, kline, forceOrder, ...), and a stream asked for
on the wrong one is not served. `VenueSpec.routes` turns symbols into one `FeedRoute` per
endpoint (and per connection, when a venue caps the streams a connection may carry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

import orjson

from bot.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AppPing:
    """An application-level ping the venue requires from the client."""

    interval_s: float
    payload: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One websocket endpoint of a venue: its URL on each network, and its path on the
    simulator (the same path the real host serves it on)."""

    name: str
    urls: Mapping[str, str]  # network -> URL
    path: str


@dataclass(frozen=True, slots=True)
class FeedRoute:
    """One connection a feed keeps: where, and the topics it carries."""

    venue: str
    endpoint: str
    url: str  # with the streams in the query when the venue subscribes on the URL
    topics: tuple[str, ...]

    @property
    def label(self) -> str:
        """`binance.public`, or the venue's name alone when it has a single endpoint."""
        return f"{self.venue}.{self.endpoint}" if self.endpoint else self.venue


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    endpoints: tuple[Endpoint, ...]
    endpoint_of: Callable[[str], str]  # topic -> the name of the endpoint that serves it
    topics: Callable[[str], list[str]]  # symbol -> topics to subscribe
    subscribe_frames: Callable[[list[str], int], list[str]]  # topics, request id -> frames
    app_ping: AppPing | None
    max_connection_age_s: float | None  # the venue closes older connections
    max_streams_per_connection: int | None = None
    subscribe_on_url: bool = False  # streams go in the URL (`?streams=a/b`), no frames sent

    @property
    def networks(self) -> list[str]:
        return ["sim", *dict.fromkeys(n for e in self.endpoints for n in e.urls)]

    def endpoint_url(
        self, endpoint: Endpoint, network: str, sim_base: str, base: str | None
    ) -> str:
        if base is not None:
            return base.rstrip("/") + endpoint.path
        if network == "sim":
            return sim_base.rstrip("/") + endpoint.path
        try:
            return endpoint.urls[network]
        except KeyError:
            raise ConfigError(
                f"{self.name} has no {network!r} network; choose one of {', '.join(self.networks)}"
            ) from None

    def routes(
        self,
        network: str,
        symbols: list[str],
        sim_base: str = "ws://127.0.0.1:8765",
        url: str | None = None,
    ) -> list[FeedRoute]:
        """The connections that carry `symbols` on `network`.

        `url` overrides the network's host: a base (`wss://host[:port]`) to which each
        endpoint's path is appended, or, for a venue with one endpoint, a whole endpoint URL.
        """
        base, whole = _split_override(self, url)
        by_endpoint: dict[str, list[str]] = {e.name: [] for e in self.endpoints}
        for symbol in symbols:
            for topic in self.topics(symbol):
                by_endpoint[self.endpoint_of(topic)].append(topic)
        routes = []
        for endpoint in self.endpoints:
            topics = by_endpoint[endpoint.name]
            if not topics:
                continue
            address = whole or self.endpoint_url(endpoint, network, sim_base, base)
            size = self.max_streams_per_connection or len(topics)
            for i in range(0, len(topics), size):
                chunk = tuple(topics[i : i + size])
                routes.append(
                    FeedRoute(self.name, endpoint.name, self._with_streams(address, chunk), chunk)
                )
        return routes

    def _with_streams(self, url: str, topics: tuple[str, ...]) -> str:
        if not self.subscribe_on_url:
            return url
        return f"{url}?streams={'/'.join(topics)}"


def _split_override(spec: VenueSpec, url: str | None) -> tuple[str | None, str | None]:
    """(a base to prefix endpoint paths with, or a whole endpoint URL) from a config `url`."""
    if url is None:
        return None, None
    parsed = urlparse(url)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise ConfigError(f"{url!r} is not a websocket URL (ws://host or wss://host)")
    if parsed.path in ("", "/"):
        return url, None
    if len(spec.endpoints) > 1:
        paths = ", ".join(e.path for e in spec.endpoints)
        raise ConfigError(
            f"{spec.name} streams come from {len(spec.endpoints)} endpoints ({paths}): give "
            f"the url as a base without a path, e.g. {parsed.scheme}://{parsed.netloc}"
        )
    return None, url


# -- Binance USDⓈ-M ---------------------------------------------------------------------------

# Binance "Important WebSocket Change Notice — Base URL Split & Migration" (legacy URLs retired
# 2026-04-23), and ccxt 4.5.90 `ccxt/pro/binance.py` `get_future_ws_category`: these channels
# are served on /public, every other market stream on /market. Checked 2026-12-05.
BINANCE_PUBLIC_CHANNELS = frozenset({"depth", "rpiDepth", "bookTicker", "trade"})


def binance_channel(topic: str) -> str:
    """`btcusdt@markPrice@1s` -> `markPrice`; `btcusdt@depth20@100ms` -> `depth`."""
    channel = topic.split("@")[1] if "@" in topic else topic
    if channel.startswith("depth"):
        return "depth"
    if channel.startswith("kline_"):
        return "kline"
    return channel


def _binance_endpoint_of(topic: str) -> str:
    return "public" if binance_channel(topic) in BINANCE_PUBLIC_CHANNELS else "market"


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


def _only(name: str) -> Callable[[str], str]:
    return lambda _topic: name


BINANCE = VenueSpec(
    name="binance",
    # Hosts as ccxt 4.5.90 has them (`urls.api.ws.linear`, `urls.test`/`urls.demo`): mainnet
    # fstream.binance.com, testnet and demo fstream.binancefuture.com; the path is the
    # endpoint's, in stream mode (combined `{"stream","data"}` envelopes).
    endpoints=(
        Endpoint(
            "public",
            {
                "mainnet": "wss://fstream.binance.com/public/stream",
                "testnet": "wss://fstream.binancefuture.com/public/stream",
                "demo": "wss://fstream.binancefuture.com/public/stream",
            },
            "/public/stream",
        ),
        Endpoint(
            "market",
            {
                "mainnet": "wss://fstream.binance.com/market/stream",
                "testnet": "wss://fstream.binancefuture.com/market/stream",
                "demo": "wss://fstream.binancefuture.com/market/stream",
            },
            "/market/stream",
        ),
    ),
    endpoint_of=_binance_endpoint_of,
    topics=_binance_topics,
    subscribe_frames=_binance_subscribe,
    app_ping=None,  # Binance pings; websockets answers with pongs
    max_connection_age_s=24 * 3600,  # "A single connection is only valid for 24 hours"
    max_streams_per_connection=1024,  # "A single connection can listen to a maximum of 1024"
    subscribe_on_url=True,  # the notice's stream mode: `/market/stream?streams=a/b`
)

BYBIT = VenueSpec(
    name="bybit",
    endpoints=(
        Endpoint(
            "",
            {
                "mainnet": "wss://stream.bybit.com/v5/public/linear",
                "testnet": "wss://stream-testnet.bybit.com/v5/public/linear",
                "demo": "wss://stream.bybit.com/v5/public/linear",  # demo trading reads mainnet
            },
            "/v5/public/linear",
        ),
    ),
    endpoint_of=_only(""),
    topics=_bybit_topics,
    subscribe_frames=_bybit_subscribe,
    app_ping=AppPing(20.0, '{"op":"ping"}'),  # Bybit recommends a ping every 20 s
    max_connection_age_s=None,
)

OKX = VenueSpec(
    name="okx",
    endpoints=(
        Endpoint(
            "",
            {
                # ccxt 4.5.90 `ccxt/pro/okx.py`: port 443, and `?brokerId=9999` in demo mode
                "mainnet": "wss://ws.okx.com:443/ws/v5/public",
                "demo": "wss://wspap.okx.com:443/ws/v5/public?brokerId=9999",
            },
            "/ws/v5/public",
        ),
    ),
    endpoint_of=_only(""),
    topics=_okx_topics,
    subscribe_frames=_okx_subscribe,
    app_ping=AppPing(25.0, "ping"),  # OKX closes a connection silent for 30 s
    max_connection_age_s=None,
)

SPECS: dict[str, VenueSpec] = {spec.name: spec for spec in (BINANCE, BYBIT, OKX)}
