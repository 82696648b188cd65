"""OKX v5 public frames → market events.

Pushes carry `arg` (channel and instId) and a `data` array (real frame, shared/data/cryptofeed):

    {"arg":{"channel":"trades","instId":"UNI-USD-SWAP"},"data":[{"instId":"UNI-USD-SWAP",
     "tradeId":"12883020","px":"5.123","sz":"100","side":"sell","ts":"1652459215150"}]}

Swap sizes are in contracts; a trade's quantity is converted to base units with the instrument's
contract value (`ctVal` from `GET /api/v5/public/instruments`) when it is known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bot.core.market import (
    BookTop,
    FrameError,
    FundingRate,
    LastPrice,
    MarketEvent,
    MarketLiquidation,
    MarkPrice,
    Trade,
)
from bot.core.values import OrderSide
from bot.venues.common import dec, dec_or_none, load_object, ms_to_ns, price

VENUE = "okx"


def _side(raw: object) -> OrderSide:
    if raw in ("buy", "sell"):
        return OrderSide(raw)
    raise FrameError("bad_side", f"expected buy or sell, got {raw!r}")


class OkxParser:
    venue = VENUE

    def __init__(self, contract_values: Mapping[str, Decimal] | None = None) -> None:
        self.ignored: Counter[str] = Counter()
        self.contract_values = dict(contract_values or {})
        self._handlers: dict[str, Callable[[dict[str, Any], int], list[MarketEvent]]] = {
            "mark-price": self._mark,
            "trades": self._trade,
            "tickers": self._ticker,
            "funding-rate": self._funding,
            "liquidation-orders": self._liquidation,
        }

    def parse(self, text: str, ts_recv: int) -> list[MarketEvent]:
        if text == "pong":
            self.ignored["pong"] += 1
            return []
        message = load_object(text)
        event = message.get("event")
        if event is not None:
            if event == "error":
                # 60014 "Requests too frequent" (OKX websocket error codes).
                kind = "rate_limited" if message.get("code") == "60014" else "venue_error"
                raise FrameError(kind, f"{message.get('code')}: {message.get('msg')}")
            self.ignored[f"event:{event}"] += 1
            return []
        arg = message.get("arg")
        data = message.get("data")
        if not isinstance(arg, dict) or not isinstance(data, list):
            raise FrameError("bad_envelope", "push without arg and data")
        handler = self._handlers.get(arg.get("channel", ""))
        if handler is None:
            self.ignored[f"channel:{arg.get('channel')}"] += 1
            return []
        events: list[MarketEvent] = []
        try:
            for item in data:
                events.extend(handler(item, ts_recv))
        except (KeyError, TypeError) as exc:
            raise FrameError(f"bad_{arg['channel']}", f"missing or wrong field {exc}") from None
        return events

    def _mark(self, d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        return [
            MarkPrice(
                VENUE, d["instId"], price(d["markPx"]), None, None, None, ms_to_ns(d["ts"]), ts_recv
            )
        ]

    def _trade(self, d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        size = self.contract_values.get(d["instId"])
        qty = dec(d["sz"]) * size if size is not None else None
        return [
            Trade(
                VENUE,
                d["instId"],
                price(d["px"]),
                qty,
                _side(d["side"]),
                str(d["tradeId"]),
                ms_to_ns(d["ts"]),
                ts_recv,
            )
        ]

    def _ticker(self, d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        ts = ms_to_ns(d["ts"])
        return [
            LastPrice(VENUE, d["instId"], price(d["last"]), ts, ts_recv),
            BookTop(
                VENUE,
                d["instId"],
                dec_or_none(d.get("bidPx")),
                dec_or_none(d.get("bidSz")),
                dec_or_none(d.get("askPx")),
                dec_or_none(d.get("askSz")),
                ts,
                ts_recv,
            ),
        ]

    def _funding(self, d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        upcoming = d.get("fundingTime")
        return [
            FundingRate(
                VENUE,
                d["instId"],
                dec(d["fundingRate"]),
                ms_to_ns(upcoming) if upcoming else None,
                ms_to_ns(d.get("ts", upcoming or 0)),
                ts_recv,
            )
        ]

    def _liquidation(self, d: dict[str, Any], ts_recv: int) -> list[MarketEvent]:
        size = self.contract_values.get(d["instId"], Decimal(1))
        return [
            MarketLiquidation(
                VENUE,
                d["instId"],
                _side(x["side"]),
                dec(x["bkPx"]),
                dec(x["sz"]) * size,
                ms_to_ns(x["ts"]),
                ts_recv,
            )
            for x in d["details"]
        ]
