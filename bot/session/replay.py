"""Replay a session through the same frames → events path as the live feed.

Time comes only from the recording (a virtual clock): the same session always produces the same
events, byte for byte.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from bot.control.codec import QueryJson, decode
from bot.core.engine import Engine
from bot.core.market import MarketEvent
from bot.core.prices import PriceBoard
from bot.errors import MarginbotError
from bot.feeds.pipeline import FramePipeline
from bot.session.events_out import EVENT_NAMES, event_line
from bot.session.io import SessionReader


@dataclass
class Divergence:
    venue: str
    symbol: str
    mark: Decimal
    last: Decimal
    relative: Decimal
    ts_event: int


@dataclass
class ReplaySummary:
    path: str
    records: int = 0
    events: Counter[str] = field(default_factory=Counter)
    parse_errors: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    unparsed: Counter[str] = field(default_factory=Counter)
    largest_divergence: Divergence | None = None
    first_ts: int | None = None
    last_ts: int | None = None
    truncated_tail: int = 0
    commands: int = 0
    refused: int = 0  # inputs the engine refused (bad market data), skipped as live

    @property
    def span_seconds(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return (self.last_ts - self.first_ts) / 1e9

    def lines(self) -> list[str]:
        out = [f"replayed {self.path}: {self.records} records over {self.span_seconds:.1f} s"]
        if self.commands:
            out.append(f"  {'trader commands':<20} {self.commands:>9}")
        if self.refused:
            out.append(f"  {'inputs refused':<20} {self.refused:>9}")
        for name, count in sorted(self.events.items()):
            out.append(f"  {name:<20} {count:>9}")
        errors = sum(self.parse_errors.values())
        out.append(f"  {'parse errors':<20} {errors:>9}")
        for kind, count in sorted(self.parse_errors.items()):
            out.append(f"    {kind}: {count}")
        if self.unparsed:
            skipped = ", ".join(f"{v} {n}" for v, n in sorted(self.unparsed.items()))
            out.append(f"  frames of venues without a parser: {skipped}")
        if self.truncated_tail:
            out.append("  the last line was cut short (a crash while recording); it was skipped")
        d = self.largest_divergence
        if d is not None:
            out.append(
                f"  largest mark-vs-last divergence: {d.venue} {d.symbol} mark {d.mark} last "
                f"{d.last} ({d.relative * 100:.4f} %) at {d.ts_event}"
            )
        return out


def replay(
    path: Path,
    sink: Callable[[MarketEvent], None] | None = None,
    events_out: BinaryIO | None = None,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    engine: Engine | None = None,
) -> ReplaySummary:
    """Replay `path`; `speed` None means as fast as possible, N means N × recorded pace.

    With an `engine`, every market event and every recorded trader command goes through it, in
    recorded order, and its output events are written after the input that caused them.
    """
    reader = SessionReader(path)
    summary = ReplaySummary(str(path))
    pipeline = FramePipeline()
    board = PriceBoard()
    previous_ts: int | None = None
    for record in reader.records():
        summary.records += 1
        ts: int = record.get("ts", 0)
        summary.first_ts = ts if summary.first_ts is None else summary.first_ts
        summary.last_ts = ts
        if speed is not None and previous_ts is not None and ts > previous_ts:
            sleep((ts - previous_ts) / 1e9 / speed)
        previous_ts = ts
        kind = record.get("t")
        if kind == "connect":
            pipeline.connect(record["conn"], record.get("venue", ""))
        elif kind == "disconnect":
            pipeline.disconnect(record["conn"])
        elif kind == "recv" and "data" in record:
            for event in pipeline.frame(record["conn"], record["data"], ts):
                _observe(summary, board, event)
                if sink is not None:
                    sink(event)
                if events_out is not None:
                    events_out.write(event_line(event))
                if engine is not None:
                    _run(engine, event, summary, events_out)
        elif kind == "command" and engine is not None:
            command = decode(orjson.dumps(record["data"]))
            if not isinstance(command, QueryJson):
                summary.commands += 1
                _run(engine, command.command(ts), summary, events_out)
    summary.truncated_tail = reader.truncated_tail
    summary.parse_errors = Counter({f"{v}:{k}": n for (v, k), n in pipeline.errors.items()})
    summary.ignored = pipeline.ignored()
    summary.unparsed = pipeline.unparsed
    return summary


def _run(engine: Engine, event: Any, summary: ReplaySummary, out: BinaryIO | None) -> None:
    try:
        results = engine.step(event)
    except MarginbotError:
        summary.refused += 1  # as the daemon did: bad input skipped, nothing changed
        return
    for result in results:
        summary.events[EVENT_NAMES.get(type(result).__name__, type(result).__name__)] += 1
        if out is not None:
            out.write(event_line(result))


def _observe(summary: ReplaySummary, board: PriceBoard, event: Any) -> None:
    summary.events[EVENT_NAMES.get(type(event).__name__, type(event).__name__)] += 1
    prices = board.apply(event)
    if prices is None:
        return
    divergence = prices.divergence()
    if divergence is None:
        return
    best = summary.largest_divergence
    if best is None or divergence > best.relative:
        assert prices.mark is not None
        assert prices.last is not None
        summary.largest_divergence = Divergence(
            event.venue, event.symbol, prices.mark, prices.last, divergence, event.ts_event
        )
