"""Frames → events, per connection: the one path live feeds and replays share.

Each connection gets a fresh parser (so merged venue state never outlives its connection). A
malformed frame is counted by (venue, kind), its first bytes kept as a sample, and skipped; the
caller is told about each new kind once, to log it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.market import FrameError, MarketEvent
from bot.venues.binance.parse import BinanceParser
from bot.venues.bybit.parse import BybitParser
from bot.venues.common import FrameParser
from bot.venues.okx.parse import OkxParser

PARSERS: dict[str, Callable[[], FrameParser]] = {
    "binance": BinanceParser,
    "bybit": BybitParser,
    "okx": OkxParser,
}
SAMPLE_BYTES = 120


@dataclass
class FramePipeline:
    on_new_error: Callable[[str, str, str], None] | None = None
    parsers: dict[str, FrameParser] = field(default_factory=dict)
    venues: dict[str, str] = field(default_factory=dict)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    error_samples: dict[tuple[str, str], str] = field(default_factory=dict)
    unparsed: Counter[str] = field(default_factory=Counter)
    frames: int = 0
    last_error: str | None = None  # the kind of error the latest frame raised, if any
    _ignored_closed: Counter[str] = field(default_factory=Counter)

    def connect(self, conn: str, venue: str) -> None:
        """A new connection: a fresh parser for its venue, if marginbot reads that venue."""
        self.venues[conn] = venue
        factory = PARSERS.get(venue)
        if factory is not None:
            self.parsers[conn] = factory()
        else:
            self.parsers.pop(conn, None)

    def disconnect(self, conn: str) -> None:
        parser = self.parsers.pop(conn, None)
        if parser is not None:
            self._ignored_closed.update(_prefixed(parser))

    def frame(self, conn: str, text: str, ts_recv: int) -> list[MarketEvent]:
        self.frames += 1
        self.last_error = None
        parser = self.parsers.get(conn)
        if parser is None:
            self.unparsed[self.venues.get(conn, conn)] += 1
            return []
        try:
            return parser.parse(text, ts_recv)
        except FrameError as exc:
            key = (parser.venue, exc.kind)
            self.errors[key] += 1
            self.last_error = exc.kind
            if key not in self.error_samples:
                self.error_samples[key] = text[:SAMPLE_BYTES]
                if self.on_new_error is not None:
                    self.on_new_error(parser.venue, exc.kind, text[:SAMPLE_BYTES])
            return []

    def ignored(self) -> Counter[str]:
        """Frames ignored by kind, over every connection so far."""
        total = Counter(self._ignored_closed)
        for parser in self.parsers.values():
            total.update(_prefixed(parser))
        return total


def _prefixed(parser: FrameParser) -> Counter[str]:
    return Counter({f"{parser.venue}:{k}": v for k, v in parser.ignored.items()})
