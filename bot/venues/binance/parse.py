"""Binance USDⓈ-M combined-stream frames → market events.

A real `markPriceUpdate` frame (shared/data/hftbacktest, 2023-04-05)::

    {"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1680652801000,
     "s":"BTCUSDT","p":"28155.20000000","P":"28141.47001461","i":"28165.15571429",
     "r":"0.00002760","T":1680681600000}}

Only `trade` events with `X == "MARKET"` set the last price; insurance-fund, ADL and other prints
become `NonMarketTrade`. `aggTrade` carries no `X` because Binance aggregates market trades only
(USDⓈ-M websocket docs, "Aggregate Trade Streams").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from bot.core import bounds
from bot.core.market import (
    MS,
    BookTop,
    FrameError,
    MarketEvent,
    MarketLiquidation,
    MarkPrice,
    NonMarketTrade,
    Trade,
)
from bot.core.values import OrderSide
from bot.errors import InputError
from bot.venues.common import dec, dec_or_none, load_object, ms_to_ns, price

VENUE = "binance"


def _taker(buyer_is_maker: object) -> OrderSide | None:
    if buyer_is_maker is None:
        return None
    return OrderSide.SELL if buyer_is_maker else OrderSide.BUY


def _mark(d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
    next_funding = d.get("T")
    return [
        MarkPrice(
            VENUE,
            d["s"],
            price(d["p"]),
            dec_or_none(d.get("i")),
            dec_or_none(d.get("r")),
            ms_to_ns(next_funding) if next_funding else None,
            ms_to_ns(d["E"]),
            ts_recv,
        )
    ]


def _trade(d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
    kind = d.get("X", "MARKET")
    ts = ms_to_ns(d.get("T", d["E"]))
    trade_id = str(d.get("t", d.get("a", "")))
    if kind != "MARKET":
        return [
            NonMarketTrade(
                VENUE, d["s"], price(d["p"]), dec(d["q"]), str(kind), trade_id, ts, ts_recv
            )
        ]
    return [
        Trade(VENUE, d["s"], price(d["p"]), dec(d["q"]), _taker(d.get("m")), trade_id, ts, ts_recv)
    ]


def _book(d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
    return [
        BookTop(
            VENUE,
            d["s"],
            dec(d["b"]),
            dec(d["B"]),
            dec(d["a"]),
            dec(d["A"]),
            ms_to_ns(d.get("T", d.get("E"))),
            ts_recv,
        )
    ]


def _force_order(d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
    order = d["o"]
    side = OrderSide.BUY if order["S"] == "BUY" else OrderSide.SELL
    price = dec(order.get("ap") or order["p"])
    qty = dec(order.get("z") or order["q"])
    return [MarketLiquidation(VENUE, order["s"], side, price, qty, ms_to_ns(order["T"]), ts_recv)]


_HANDLERS: dict[str, Callable[[dict[str, Any], int], list[MarketEvent]]] = {
    "markPriceUpdate": _mark,
    "trade": _trade,
    "aggTrade": _trade,
    "bookTicker": _book,
    "forceOrder": _force_order,
}


# The fast path: the three frames that make nearly all of the traffic, decoded straight into
# typed structs (no dict per frame). Any frame it cannot take exactly — another event, a null
# or mistyped field, a number that is not a finite decimal — goes to the general path below,
# which gives the same events and the same errors as before: the fast path changes speed only.
class _FastBook(msgspec.Struct, tag_field="e", tag="bookTicker"):
    s: str
    b: str
    B: str
    a: str
    A: str
    T: int | msgspec.UnsetType = msgspec.UNSET
    E: int | msgspec.UnsetType = msgspec.UNSET


class _FastMark(msgspec.Struct, tag_field="e", tag="markPriceUpdate"):
    s: str
    p: str
    E: int
    i: str | None = None
    r: str | None = None
    T: int | None = None


class _FastTrade(msgspec.Struct, tag_field="e", tag="trade"):
    s: str
    p: str
    q: str
    E: int
    T: int | msgspec.UnsetType = msgspec.UNSET
    t: int | msgspec.UnsetType = msgspec.UNSET
    X: str = "MARKET"
    m: bool | None = None


class _FastDepth(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """A depth update (in recorded sessions, not subscribed by the daemon): read past, unused."""


class _FastEnvelope(msgspec.Struct):
    stream: str
    data: _FastBook | _FastMark | _FastTrade | _FastDepth


_decode_fast = msgspec.json.Decoder(_FastEnvelope).decode


class _Decimals(dict[str, Decimal]):
    """Decimal of each numeric string, made once: quotes repeat the same few price and size
    strings all day, and a lookup costs under half a conversion. Decimals are immutable, so
    sharing one is the same as making it again. Only finite values are held; anything else
    raises InvalidOperation, which sends the frame to the general path."""

    LIMIT = 50_000

    def __missing__(self, raw: str) -> Decimal:
        value = Decimal(raw)
        try:
            bounds.amount("number", value)
        except InputError:
            raise InvalidOperation from None  # the general path says what is wrong (dec)
        if len(self) >= self.LIMIT:
            self.clear()
        self[raw] = value
        return value


_decimal = _Decimals()


def _finite(raw: str) -> Decimal:
    return _decimal[raw]


def _optional(raw: str | None) -> Decimal | None:
    return None if raw is None or raw == "" else _finite(raw)


def _fast_book(data: _FastBook, ts_recv: int) -> list[MarketEvent] | None:
    ts = data.T if data.T is not msgspec.UNSET else data.E
    if ts is msgspec.UNSET:
        return None
    decimal = _decimal
    return [
        BookTop(
            VENUE,
            data.s,
            decimal[data.b],
            decimal[data.B],
            decimal[data.a],
            decimal[data.A],
            ts * MS,
            ts_recv,
        )
    ]


def _fast_trade(data: _FastTrade, ts_recv: int) -> list[MarketEvent] | None:
    if data.t is msgspec.UNSET:
        return None  # the general path decides what a trade without its id is
    ts = (data.T if data.T is not msgspec.UNSET else data.E) * MS
    trade_id = str(data.t)
    price, qty = _decimal[data.p], _decimal[data.q]
    if price <= 0:
        return None  # the general path refuses it, in words
    if data.X != "MARKET":
        return [NonMarketTrade(VENUE, data.s, price, qty, data.X, trade_id, ts, ts_recv)]
    return [Trade(VENUE, data.s, price, qty, _taker(data.m), trade_id, ts, ts_recv)]


def _fast_mark(data: _FastMark, ts_recv: int) -> list[MarketEvent] | None:
    if _finite(data.p) <= 0:
        return None  # the general path refuses it, in words
    return [
        MarkPrice(
            VENUE,
            data.s,
            _finite(data.p),
            _optional(data.i),
            _optional(data.r),
            data.T * MS if data.T else None,
            data.E * MS,
            ts_recv,
        )
    ]


_DEPTH: list[MarketEvent] = []  # what a depth update gives: nothing (never appended to)


def _fast_depth(_data: _FastDepth, _ts_recv: int) -> list[MarketEvent]:
    return _DEPTH


_FAST: dict[type, Callable[[Any, int], list[MarketEvent] | None]] = {
    _FastBook: _fast_book,
    _FastTrade: _fast_trade,
    _FastMark: _fast_mark,
    _FastDepth: _fast_depth,
}


class BinanceParser:
    venue = VENUE

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def parse(self, text: str, ts_recv: int) -> list[MarketEvent]:
        # The fast path first: the frames it can take exactly (it is most of what a replay
        # does); `general` for everything else, including every malformed case.
        try:
            data = _decode_fast(text).data
            events = _FAST[type(data)](data, ts_recv)
        except (msgspec.DecodeError, InvalidOperation, ValueError):
            events = None
        if events is None:
            return self.general(text, ts_recv)
        if events is _DEPTH:
            self.ignored["event:depthUpdate"] += 1
            return []
        return events

    def general(self, text: str, ts_recv: int) -> list[MarketEvent]:
        """Any frame: envelopes, replies, errors, every event kind, and every malformed case."""
        message = load_object(text)
        if "stream" in message:
            data = message.get("data")
            if not isinstance(data, dict):
                raise FrameError("bad_envelope", "combined-stream frame without a data object")
        elif "result" in message and "id" in message:
            self.ignored["subscription_reply"] += 1
            return []
        elif "code" in message and "msg" in message:
            # -1003 TOO_MANY_REQUESTS: Binance's rate-limit answer; we back off, not retry.
            error_kind = "rate_limited" if message["code"] in (-1003, 429) else "venue_error"
            raise FrameError(error_kind, f"{message['code']}: {message['msg']}")
        elif isinstance(message.get("error"), dict):
            error = message["error"]
            limited = "too many" in str(error.get("msg", "")).lower()
            raise FrameError(
                "rate_limited" if limited else "venue_error",
                f"{error.get('code')}: {error.get('msg')}",
            )
        else:
            data = message
        kind = data.get("e")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.ignored[f"event:{kind}"] += 1
            return []
        try:
            return handler(data, ts_recv)
        except (KeyError, TypeError) as exc:
            raise FrameError(f"bad_{kind}", f"missing or wrong field {exc}") from None
