"""Bybit v5 public linear frames → market events.

`tickers.<symbol>` sends one snapshot, then deltas that carry only the changed fields (real
frame, shared/data/cryptofeed/BYBIT.jsonl)::

    {"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"65114.20",
     "bid1Size":"6.054","ask1Price":"65114.30","ask1Size":"10.486"},"cs":753843907770,
     "ts":1786310817883}

The parser keeps the merged view per symbol and emits a mark or last price only when the frame
carries that field. The merged view lives in the parser, and the shell makes a new parser for
every connection, so after a reconnect the view is rebuilt from a fresh snapshot and a delta
that arrives before its snapshot is refused, never merged into stale state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.core.market import (
    BookTop,
    FrameError,
    LastPrice,
    MarketEvent,
    MarketLiquidation,
    MarkPrice,
    Trade,
)
from bot.core.values import OrderSide
from bot.venues.common import dec, dec_or_none, load_object, ms_to_ns, price

VENUE = "bybit"


def _side(raw: object) -> OrderSide:
    if raw == "Buy":
        return OrderSide.BUY
    if raw == "Sell":
        return OrderSide.SELL
    raise FrameError("bad_side", f"expected Buy or Sell, got {raw!r}")


class BybitParser:
    venue = VENUE

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()
        self._tickers: dict[str, dict[str, Any]] = {}
        self._books: dict[str, tuple[list[Decimal] | None, list[Decimal] | None]] = {}

    def ticker(self, symbol: str) -> Mapping[str, Any]:
        """The merged ticker of a symbol (empty before its snapshot)."""
        return self._tickers.get(symbol, {})

    def parse(self, text: str, ts_recv: int) -> list[MarketEvent]:
        message = load_object(text)
        topic = message.get("topic")
        if not isinstance(topic, str):
            return self._control(message)
        channel, _, symbol = topic.partition(".")
        try:
            if channel == "tickers":
                return self._on_ticker(symbol, message, ts_recv)
            if channel == "publicTrade":
                return self._on_trades(message, ts_recv)
            if channel == "orderbook" and symbol.startswith("1."):
                return self._on_book(symbol[2:], message, ts_recv)
            if channel == "allLiquidation":
                return self._on_liquidations(message, ts_recv)
        except (KeyError, TypeError, AttributeError) as exc:
            raise FrameError(f"bad_{channel}", f"missing or wrong field {exc}") from None
        self.ignored[f"topic:{topic.rsplit('.', 1)[0]}"] += 1
        return []

    def _control(self, message: dict[str, Any]) -> list[MarketEvent]:
        op = message.get("op")
        if message.get("success") is False:
            reason = str(message.get("ret_msg"))
            limited = any(word in reason.lower() for word in ("too many", "rate limit", "frequen"))
            raise FrameError("rate_limited" if limited else "venue_rejected", f"{op}: {reason}")
        self.ignored[f"op:{op}"] += 1
        return []

    def _on_ticker(self, symbol: str, message: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        data = message["data"]
        if not isinstance(data, dict):
            raise FrameError("bad_tickers", "data is not an object")
        if message.get("type") == "snapshot":
            self._tickers[symbol] = dict(data)
        elif symbol in self._tickers:
            self._tickers[symbol].update(data)
        else:
            raise FrameError("delta_before_snapshot", f"tickers.{symbol} delta without snapshot")
        merged = self._tickers[symbol]
        ts_event = ms_to_ns(message["ts"])
        events: list[MarketEvent] = []
        if "markPrice" in data:
            next_funding = merged.get("nextFundingTime")
            events.append(
                MarkPrice(
                    VENUE,
                    symbol,
                    price(merged["markPrice"]),
                    dec_or_none(merged.get("indexPrice")),
                    dec_or_none(merged.get("fundingRate")),
                    ms_to_ns(next_funding) if next_funding else None,
                    ts_event,
                    ts_recv,
                )
            )
        if "lastPrice" in data:
            events.append(LastPrice(VENUE, symbol, price(merged["lastPrice"]), ts_event, ts_recv))
        return events

    def _on_trades(self, message: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        return [
            Trade(
                VENUE,
                t["s"],
                price(t["p"]),
                dec(t["v"]),
                _side(t["S"]),
                str(t["i"]),
                ms_to_ns(t["T"]),
                ts_recv,
            )
            for t in message["data"]
        ]

    def _on_book(self, symbol: str, message: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        data = message["data"]
        bid, ask = self._books.get(symbol, (None, None))
        if message.get("type") == "snapshot":
            bid, ask = None, None
        elif symbol not in self._books:
            raise FrameError("delta_before_snapshot", f"orderbook.1.{symbol} delta")
        for level in data.get("b", []):
            bid = None if dec(level[1]) == 0 else [dec(level[0]), dec(level[1])]
        for level in data.get("a", []):
            ask = None if dec(level[1]) == 0 else [dec(level[0]), dec(level[1])]
        self._books[symbol] = (bid, ask)
        return [
            BookTop(
                VENUE,
                symbol,
                bid[0] if bid else None,
                bid[1] if bid else None,
                ask[0] if ask else None,
                ask[1] if ask else None,
                ms_to_ns(message["ts"]),
                ts_recv,
            )
        ]

    def _on_liquidations(self, message: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        # Bybit v5 "All Liquidation": `S` is the side of the liquidated *position* ("Buy" = a
        # long was liquidated), so the liquidation order itself is the other side.
        return [
            MarketLiquidation(
                VENUE,
                x["s"],
                OrderSide.SELL if _side(x["S"]) is OrderSide.BUY else OrderSide.BUY,
                dec(x["p"]),
                dec(x["v"]),
                ms_to_ns(x["T"]),
                ts_recv,
            )
            for x in message["data"]
        ]
