"""Replay a session through the same frames → events path as the live feed, and with a
kernel through the same step as the daemon (bot/core/kernel.py).

Time comes only from the recording (a virtual clock): the same session always produces the same
events and alerts, byte for byte. Each input is keyed as the daemon keyed it (the ordinal of its
record in the session and its place among the frame's events), so every alert gets the id the
live daemon gave it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from bot.control.codec import QueryJson, decode
from bot.core.kernel import Kernel, Step
from bot.core.market import MarketEvent
from bot.core.prices import PriceBoard
from bot.errors import MarginbotError
from bot.feeds.pipeline import FramePipeline
from bot.session.events_out import EVENT_NAMES, alert_line, event_line
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
    strategy_commands: int = 0  # recorded strategy commands: re-made by the strategies, or applied
    alerts: Counter[str] = field(default_factory=Counter)  # raised by the kernel, by kind
    refused: int = 0  # inputs the engine refused (bad market data), skipped as live
    bad_records: Counter[str] = field(default_factory=Counter)  # unreadable, skipped
    record_kinds: Counter[str] = field(default_factory=Counter)  # by `t`

    @property
    def span_seconds(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return (self.last_ts - self.first_ts) / 1e9

    def _alert_lines(self) -> list[str]:
        if not self.alerts:
            return []
        return [f"  {sum(self.alerts.values()):,} alerts:"] + [
            f"  {name:<20} {count:>9,}" for name, count in sorted(self.alerts.items())
        ]

    def lines(self) -> list[str]:
        kinds = ", ".join(
            f"{count:,} {_words(kind, count)}"
            for kind, count in sorted(self.record_kinds.items(), key=lambda kv: -kv[1])
        )
        out = [f"replayed {self.path}: {self.records:,} records ({kinds})"]
        if self.first_ts is not None and self.last_ts is not None:
            out.append(
                f"  {_when(self.first_ts)} to {_when(self.last_ts)} ({_span(self.span_seconds)})"
            )
        if self.commands:
            out.append(f"  {'trader commands':<20} {self.commands:>9}")
        if self.refused:
            out.append(f"  {'inputs refused':<20} {self.refused:>9}")
        out += self._alert_lines()
        out.append(f"  {sum(self.events.values()):,} events (market data, and the engine's):")
        for name, count in sorted(self.events.items()):
            out.append(f"  {name:<20} {count:>9,}")
        if self.ignored:
            skipped = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.ignored.items()))
            out.append(f"  frames with nothing marginbot reads: {skipped}")
        errors = sum(self.parse_errors.values())
        out.append(f"  {'parse errors':<20} {errors:>9}")
        for kind, count in sorted(self.parse_errors.items()):
            out.append(f"    {kind}: {count}")
        if self.bad_records:
            out.append(f"  {'records skipped':<20} {sum(self.bad_records.values()):>9}")
            for why, count in sorted(self.bad_records.items()):
                out.append(f"    {why}: {count}")
        if self.unparsed:
            skipped = ", ".join(f"{v} {n}" for v, n in sorted(self.unparsed.items()))
            out.append(f"  frames of venues without a parser: {skipped}")
        if self.truncated_tail:
            out.append("  the last line was cut short (a crash while recording); it was skipped")
        d = self.largest_divergence
        if d is not None:
            out.append(
                f"  largest mark-vs-last divergence: {d.venue} {d.symbol} mark {d.mark} last "
                f"{d.last} ({d.relative * 100:.4f} %) at {_when(d.ts_event)}"
            )
        return out


def replay(
    path: Path,
    sink: Callable[[MarketEvent], None] | None = None,
    events_out: BinaryIO | None = None,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    kernel: Kernel | None = None,
) -> ReplaySummary:
    """Replay `path`; `speed` None means as fast as possible, N means N × recorded pace.

    With a `kernel`, every market event and every recorded trader command goes through it, in
    recorded order, and its output events and alerts are written after the input that caused
    them. The kernel's session is set from the header, so that alert ids match the live run's.
    """
    reader = SessionReader(path)
    summary = ReplaySummary(str(path))
    first = _first_record(reader, kernel)
    pipeline = FramePipeline()
    board = PriceBoard()
    previous_ts: int | None = None
    for record in reader.records():
        summary.records += 1
        summary.record_kinds[str(record.get("t"))] += 1
        problem = _record_problem(record)
        if problem is not None:
            summary.bad_records[problem] += 1  # counted and skipped, as a malformed frame is
            continue
        ts: int = record["ts"]
        summary.first_ts = ts if summary.first_ts is None else summary.first_ts
        summary.last_ts = ts
        if speed is not None and previous_ts is not None and ts > previous_ts:
            # A gap in the recording (a night without data) is not waited out.
            sleep(min((ts - previous_ts) / 1e9 / speed, MAX_WAIT_S))
        previous_ts = ts
        kind = record.get("t")
        ordinal = first + summary.records  # as the daemon keyed it (RotatingRecorder.records)
        if kind == "connect":
            pipeline.connect(record["conn"], str(record.get("venue", "")))
        elif kind == "disconnect":
            pipeline.disconnect(record["conn"])
        elif kind == "recv" and "data" in record:
            if not isinstance(record["data"], str):
                summary.bad_records["recv data is not text"] += 1
                continue
            for index, event in enumerate(pipeline.frame(record["conn"], record["data"], ts)):
                _observe(summary, board, event)
                if sink is not None:
                    sink(event)
                if events_out is not None:
                    events_out.write(event_line(event))
                if kernel is not None:
                    _run(kernel, event, ordinal, index, summary, events_out)
        elif kind == "command" and kernel is not None:
            _recorded_command(kernel, record, str(ordinal), summary, events_out)
    summary.truncated_tail = reader.truncated_tail
    summary.parse_errors = Counter({f"{v}:{k}": n for (v, k), n in pipeline.errors.items()})
    summary.ignored = pipeline.ignored()
    summary.unparsed = pipeline.unparsed
    return summary


_RECORD_WORDS = {
    "recv": "frame received",
    "send": "frame sent",
    "connect": "connect",
    "disconnect": "disconnect",
    "http": "REST answer",
    "command": "trader command",
}


def _words(kind: str, count: int) -> str:
    word = _RECORD_WORDS.get(kind, f"{kind!r} record")
    if count == 1:
        return word
    head, _, tail = word.partition(" ")
    return f"{head}s {tail}".strip() if tail and head in ("frame", "REST") else word + "s"


def _when(ts_ns: int) -> str:
    """A UTC time a person reads: 2023-04-05 00:01:14.400 UTC."""
    moment = datetime.fromtimestamp(ts_ns / 1e9, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def _span(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes} min {rest:.0f} s"
    return f"{minutes} min {rest:.1f} s" if minutes else f"{rest:.1f} s"


# Local times a recorder could have written: 2009-01-01 to 2100-01-01, in nanoseconds.
_EARLIEST_NS, _LATEST_NS = 1_230_768_000 * 10**9, 4_102_444_800 * 10**9
MAX_WAIT_S = 5.0  # the longest pause a paced replay makes, whatever the recorded gap


def _record_problem(record: dict[str, Any]) -> str | None:
    """Why a record cannot be replayed, in words; None when it can."""
    ts = record.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int):
        return "ts is not an integer"
    if not _EARLIEST_NS <= ts <= _LATEST_NS:
        return "ts is not a time between 2009 and 2100 in nanoseconds"
    if record.get("t") in ("connect", "disconnect", "recv", "send") and not isinstance(
        record.get("conn"), str
    ):
        return "conn is missing"
    return None


def _first_record(reader: SessionReader, kernel: Kernel | None) -> int:
    """How many records the session had before this file (0 but in a later part), and the
    kernel's session, from the header: with both, inputs are keyed as the daemon keyed them."""
    header = reader.header()
    source = header.get("source")
    first = source.get("first_record", 0) if isinstance(source, dict) else 0
    if kernel is not None:
        kernel.session = str(header.get("start_time_ns", ""))
    return first if isinstance(first, int) and not isinstance(first, bool) and first >= 0 else 0


def _recorded_command(
    kernel: Kernel,
    record: dict[str, Any],
    key: str,
    summary: ReplaySummary,
    out: BinaryIO | None,
) -> None:
    if record.get("by") == "strategy" and kernel.strategies:
        summary.strategy_commands += 1  # the kernel's strategies make it again, as live
        return
    _command(kernel, record.get("data"), record["ts"], key, summary, out)


def _command(
    kernel: Kernel,
    data: object,
    ts: int,
    key: str,
    summary: ReplaySummary,
    out: BinaryIO | None,
) -> None:
    """A recorded trader command, decoded as the daemon decodes it."""
    try:
        command = decode(orjson.dumps(data))
        if isinstance(command, QueryJson):
            return
        core = command.command(ts)
    except MarginbotError:
        summary.bad_records["command the daemon would refuse"] += 1
        return
    if not kernel.has_account(core.account):
        summary.bad_records["command for an account the configuration lacks"] += 1
        return
    summary.commands += 1
    _run(kernel, core, key, -1, summary, out)


def _run(
    kernel: Kernel,
    event: Any,
    key: str | int,
    index: int,
    summary: ReplaySummary,
    out: BinaryIO | None,
) -> None:
    try:
        step: Step = kernel.step(event, key, index)
    except MarginbotError:
        summary.refused += 1  # as the daemon did: bad input skipped, nothing changed
        return
    for result in step.all_events():
        summary.events[EVENT_NAMES.get(type(result).__name__, type(result).__name__)] += 1
        if out is not None:
            out.write(event_line(result))
    for alert, alert_id in zip(step.alerts, step.alert_ids, strict=True):
        summary.alerts[alert.kind] += 1
        if out is not None:
            out.write(alert_line(alert, alert_id))


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
