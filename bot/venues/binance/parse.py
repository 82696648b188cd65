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
from typing import Any

from bot.core.market import (
    BookTop,
    FrameError,
    MarketEvent,
    MarketLiquidation,
    MarkPrice,
    NonMarketTrade,
    Trade,
)
from bot.core.values import OrderSide
from bot.venues.common import dec, dec_or_none, load_object, ms_to_ns

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
            dec(d["p"]),
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
                VENUE, d["s"], dec(d["p"]), dec(d["q"]), str(kind), trade_id, ts, ts_recv
            )
        ]
    return [
        Trade(VENUE, d["s"], dec(d["p"]), dec(d["q"]), _taker(d.get("m")), trade_id, ts, ts_recv)
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


class BinanceParser:
    venue = VENUE

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def parse(self, text: str, ts_recv: int) -> list[MarketEvent]:
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
