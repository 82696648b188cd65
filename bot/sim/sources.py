"""What the simulator plays: a scripted scenario or a recorded session, as timed frames.

A source yields `Published(t_s, venue, topic, text)`: at `t_s` seconds after the start, send
`text` to the subscribers of `topic` on `venue`. `now_ms` stamps exchange times, so frames look
live; a recorded session's times are shifted by the same offset for every frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import orjson

from bot.core.values import ONE
from bot.session.io import SessionReader
from bot.sim import frames
from bot.sim.scenario import Scenario

FUNDING_INTERVAL_MS = 8 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Published:
    t_s: float
    venue: str
    topic: str
    text: str


class Source(Protocol):
    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:
        """Frames with `t_s` in recorded seconds; exchange times advance at `speed`."""


@dataclass
class ScenarioSource:
    scenario: Scenario
    venues: tuple[str, ...] = ("binance", "bybit", "okx")
    qty: Decimal = Decimal("0.001")

    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:
        next_funding = (start_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        step = self.scenario.price_step
        for sequence, tick in enumerate(self.scenario.ticks(), 1):
            t = float(tick.t_s)
            ts = start_ms + int(float(tick.t_s) * 1000 / speed)
            bid, ask = tick.last - step, tick.last
            if "binance" in self.venues:
                for topic, text in (
                    frames.binance_mark(
                        tick.symbol, tick.mark, tick.mark, Decimal("0.0001"), next_funding, ts
                    ),
                    frames.binance_trade(
                        tick.symbol, tick.last, self.qty, sequence, sequence % 2 == 0, ts
                    ),
                    frames.binance_book(tick.symbol, bid, ask, self.qty, sequence, ts),
                ):
                    yield Published(t, "binance", topic, text)
            if "bybit" in self.venues:
                fields = {
                    "markPrice": str(tick.mark),
                    "indexPrice": str(tick.mark),
                    "lastPrice": str(tick.last),
                    "fundingRate": "0.0001",
                    "nextFundingTime": str(next_funding),
                    "bid1Price": str(bid),
                    "ask1Price": str(ask),
                }
                for topic, text in (
                    frames.bybit_ticker(tick.symbol, fields, ts, sequence == 1, sequence),
                    frames.bybit_trade(
                        tick.symbol,
                        tick.last,
                        self.qty,
                        sequence % 2 == 1,
                        f"sim-{sequence}",
                        ts,
                        sequence,
                    ),
                    frames.bybit_book(tick.symbol, bid, ask, self.qty, sequence, ts),
                ):
                    yield Published(t, "bybit", topic, text)
            if "okx" in self.venues:
                inst_id = frames.okx_inst_id(tick.symbol)
                side = "buy" if sequence % 2 else "sell"
                for topic, text in (
                    frames.okx_mark(inst_id, tick.mark, ts),
                    frames.okx_trade(inst_id, tick.last, ONE, sequence, side, ts),
                ):
                    yield Published(t, "okx", topic, text)


def _retime(document: Any, first_ms: int, start_ms: int, speed: float) -> None:
    """Move a Binance or Bybit frame's exchange times to now, on a clock running at `speed`.

    Every time field moves by the same rule, so the frame's times keep their order and spacing
    (Binance's next-funding time `T` included) on the accelerated clock.
    """
    if isinstance(document, dict):
        for key in ("E", "T", "ts", "cts"):
            value = document.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                document[key] = start_ms + int((value - first_ms) / speed)
        for key in ("data", "o"):
            if key in document:
                _retime(document[key], first_ms, start_ms, speed)
    elif isinstance(document, list):
        for item in document:
            _retime(item, first_ms, start_ms, speed)


@dataclass
class SessionSource:
    """Replays the recorded frames of Binance and Bybit connections at their recorded pace."""

    path: Path
    venues: tuple[str, ...] = ("binance", "bybit")

    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:
        venue_of: dict[str, str] = {}
        first_ns: int | None = None
        first_ms: int | None = None
        for record in SessionReader(self.path).records():
            kind = record.get("t")
            if kind == "connect":
                venue_of[record["conn"]] = record.get("venue", "")
                continue
            if kind != "recv" or "data" not in record:
                continue
            venue = venue_of.get(record["conn"], "")
            if venue not in self.venues:
                continue
            document = orjson.loads(record["data"])
            topic = document.get("stream") or document.get("topic")
            if not isinstance(topic, str):
                continue
            first_ns = record["ts"] if first_ns is None else first_ns
            if first_ms is None:
                first_ms = _first_exchange_ms(document, record["ts"] // 1_000_000)
            _retime(document, first_ms, start_ms, speed)
            yield Published(
                (record["ts"] - first_ns) / 1e9, venue, topic, orjson.dumps(document).decode()
            )


def _first_exchange_ms(document: dict[str, Any], fallback: int) -> int:
    data = document.get("data")
    if isinstance(data, dict) and isinstance(data.get("E"), int):
        return int(data["E"])
    if isinstance(document.get("ts"), int):
        return int(document["ts"])
    return fallback


@dataclass
class SessionThenScenario:
    """A recorded session, then a scenario rebased to start at the session's last mark price.

    Each part plays at its own speed (the demo plays minutes of recorded calm quickly and the
    crash slowly enough to watch); `t_s` is already on the wall clock, before the simulator's
    own speed.
    """

    session: SessionSource
    scenario: Scenario
    session_speed: float = 1.0
    scenario_speed: float = 1.0

    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:
        last_mark: Decimal | None = None
        end_s = 0.0
        for item in self.session.frames(start_ms, self.session_speed * speed):
            end_s = item.t_s / self.session_speed
            if "@markPrice" in item.topic:
                last_mark = Decimal(orjson.loads(item.text)["data"]["p"])
            yield replace(item, t_s=end_s)
        scenario = self.scenario if last_mark is None else self.scenario.rebased(last_mark)
        crash = ScenarioSource(scenario, self.session.venues)
        offset_ms = int(end_s * 1000 / speed)
        for item in crash.frames(start_ms + offset_ms, self.scenario_speed * speed):
            yield replace(item, t_s=end_s + item.t_s / self.scenario_speed)
