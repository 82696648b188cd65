"""The replay workload of `bench.replay`, shared with the golden-output test.

The shipped Binance session, its frames held in memory as received text (repeated with exchange
times shifted, for a million events), through the full pipeline: parse → the kernel (the
engine: price board, ledger at the mark, trigger books, liquidation check, funding; then the
alert rules). Three accounts hold positions with brackets, a trailing stop and a resting limit:
the triggers rest far enough away that they keep resting, so every tick pays for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bot.control.codec import QueryJson, decode
from bot.core.engine import Engine
from bot.core.kernel import EMPTY, Kernel
from bot.core.ledger.account import Account
from bot.core.values import MarginMode, Venue
from bot.feeds.pipeline import FramePipeline
from bot.markets.snapshot import bundled_for
from bot.session.io import SessionReader
from bot.sim.scenario import load_scenario
from bot.sim.sources import ScenarioSource, _retime

ROOT = Path(__file__).resolve().parent.parent
SESSION = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
CRASH = ROOT / "config/scenarios/crash.toml"
PRIME = 400  # frames before the orders: the first prices
ORDERS: list[dict[str, Any]] = [
    {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "side": "buy",
     "type": "market", "qty": "0.3"},
    {"cmd": "set_tp_sl", "account": "iso", "symbol": "BTCUSDT", "take_profit": "33000",
     "stop_loss": "24000"},
    {"cmd": "place_order", "account": "cross", "symbol": "BTCUSDT", "side": "sell",
     "type": "market", "qty": "0.2"},
    {"cmd": "set_tp_sl", "account": "cross", "symbol": "BTCUSDT", "take_profit": "23000",
     "stop_loss": "32000", "take_profit_source": "mark"},
    {"cmd": "place_order", "account": "trail", "symbol": "BTCUSDT", "side": "buy",
     "type": "market", "qty": "0.5"},
    {"cmd": "place_order", "account": "trail", "symbol": "BTCUSDT", "side": "sell",
     "type": "trailing_stop_market", "qty": "0.5", "callback_rate": "0.05",
     "reduce_only": True},
    {"cmd": "place_order", "account": "trail", "symbol": "BTCUSDT", "side": "buy",
     "type": "limit", "qty": "0.1", "price": "20000"},
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Frame:
    conn: str
    text: str
    ts: int


def load_frames(repeat: int = 1, crash: bool = False) -> tuple[list[tuple[str, str]], list[Frame]]:
    """(connections, frames): every received frame, `repeat` times, each repetition moved
    later by the session's span so that time only moves forward; with `crash`, then the 15 %
    crash of config/scenarios/crash.toml from the session's last mark (liquidations, triggers
    and every kind of price alert)."""
    connections: list[tuple[str, str]] = []
    base: list[tuple[str, dict[str, Any] | None, str, int]] = []
    for record in SessionReader(SESSION).records():
        if record.get("t") == "connect":
            connections.append((record["conn"], record.get("venue", "")))
        elif record.get("t") == "recv" and "data" in record:
            text = record["data"]
            base.append((record["conn"], orjson.loads(text), text, record["ts"]))
    span_ns = base[-1][3] - base[0][3] + 1_000_000_000
    frames: list[Frame] = []
    for n in range(repeat):
        for conn, document, text, ts in base:
            moved = text
            if n and isinstance(document, dict):
                shifted = orjson.loads(text)
                _retime(shifted, 0, n * span_ns // 1_000_000, 1.0)
                moved = orjson.dumps(shifted).decode()
            frames.append(Frame(conn, moved, ts + n * span_ns))
    if crash:
        frames += _crash_frames(connections[-1][0], frames)
    return connections, frames


def _crash_frames(conn: str, before: list[Frame]) -> list[Frame]:
    last_mark = next(
        orjson.loads(f.text)["data"]["p"] for f in reversed(before) if "@markPrice" in f.text
    )
    scenario = load_scenario(CRASH).rebased(Decimal(last_mark))
    start_ns = before[-1].ts + 1_000_000
    return [
        Frame(conn, item.text, start_ns + int(item.t_s * 1e9))
        for item in ScenarioSource(scenario, ("binance",)).frames(start_ns // 1_000_000)
    ]


def build_engine() -> Engine:
    instruments = bundled_for(Venue.BINANCE)
    return Engine(
        {
            name: Account(
                Venue.BINANCE,
                instruments,
                Decimal(balance),
                default_leverage=Decimal(leverage),
                default_margin_mode=mode,
            )
            for name, balance, leverage, mode in (
                ("iso", 10_000, 10, MarginMode.ISOLATED),
                ("cross", 10_000, 20, MarginMode.CROSS),
                ("trail", 20_000, 5, MarginMode.CROSS),
            )
        }
    )


def run(
    connections: list[tuple[str, str]],
    frames: list[Frame],
    out: Callable[[Any], None] | None = None,
    orders: list[dict[str, Any]] = ORDERS,
    parsed: list[list[Any]] | None = None,
) -> int:
    """The whole pipeline over `frames`; returns the number of market events processed.
    `out` receives every engine event and alert, in order. `orders` are sent after the
    first PRIME frames. With `parsed` (`parse_all(...)`), the frames' events are taken from
    it instead of being parsed: engine and rules alone."""
    kernel = Kernel(build_engine())
    pipeline = FramePipeline()
    for conn, venue in connections:
        pipeline.connect(conn, venue)
    step = kernel.step
    parse: Callable[[str, str, int], list[Any]] = pipeline.frame
    if parsed is not None:
        events_of = iter(parsed).__next__
        parse = lambda _conn, _text, _ts: events_of()  # noqa: E731
    count = 0
    for index, frame in enumerate(frames):
        if index == PRIME:
            for number, order in enumerate(orders):
                command = decode(orjson.dumps(order))
                assert not isinstance(command, QueryJson)
                done = step(command.command(frame.ts), f"order.{number}")
                if out is not None:
                    for item in (*done.events, *done.alerts):
                        out(item)
        for event in parse(frame.conn, frame.text, frame.ts):
            count += 1
            done = step(event, count)  # the input's number: a key unique in the run
            if out is not None and done is not EMPTY:
                for item in (*done.events, *done.alerts):
                    out(item)
    return count


def parse_all(connections: list[tuple[str, str]], frames: list[Frame]) -> list[list[Any]]:
    """Each frame's events, parsed once (for `run(..., parsed=...)`)."""
    pipeline = FramePipeline()
    for conn, venue in connections:
        pipeline.connect(conn, venue)
    return [pipeline.frame(f.conn, f.text, f.ts) for f in frames]
