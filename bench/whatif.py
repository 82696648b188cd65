"""`marginbot compare` against replay: the shipped Binance session repeated to a million
events (plus the crash), written to a session file and read back from it as a user's day would
be (streamed, never loaded whole). Both modes at once in one pass, against a replay of the
same file through a kernel holding one account (one mode): the comparison must cost less than
two such replays, and its memory must not grow with the session.

    python -m bench.whatif [--quick]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from decimal import Decimal
from pathlib import Path

from bench.common import figure, median_seconds, peak_rss_mb, verdict
from bench.workload import load_frames
from bot import __version__
from bot.cli.compare import compare
from bot.compare.whatif import Scenario
from bot.core.engine import Engine
from bot.core.kernel import Kernel
from bot.core.ledger.account import Account
from bot.core.values import MarginMode, Venue
from bot.markets.snapshot import bundled_for
from bot.session.format import SessionHeader
from bot.session.io import SessionWriter
from bot.session.replay import replay

SESSION_EVENTS = 57_654


def write_session(path: Path, repeat: int) -> int:
    connections, frames = load_frames(repeat, crash=True)
    header = SessionHeader(("binance",), ("BTCUSDT",), frames[0].ts, __version__)
    with SessionWriter(path, header) as writer:
        for conn, venue in connections:
            writer.write({"t": "connect", "conn": conn, "ts": frames[0].ts, "venue": venue,
                          "url": "wss://bench"})  # fmt: skip
        for frame in frames:
            writer.recv(frame.conn, frame.ts, frame.text)
    return len(frames)


def one_mode(path: Path) -> None:
    account = Account(
        Venue.BINANCE,
        bundled_for(Venue.BINANCE),
        Decimal(2000),
        default_leverage=Decimal(10),
        default_margin_mode=MarginMode.ISOLATED,
    )
    replay(path, kernel=Kernel(Engine({"isolated": account})))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one short run (CI smoke run)")
    quick = parser.parse_args().quick
    repeat = 1 if quick else math.ceil(1_000_000 / SESSION_EVENTS)
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="marginbot-bench-") as folder:
        path = Path(folder) / "day.jsonl"
        frames = write_session(path, repeat)
        scenario = Scenario("BTCUSDT", "long", Decimal("0.355"), Decimal(10), Decimal(2000))
        both = median_seconds(lambda: compare(path, scenario), runs)
        single = median_seconds(lambda: one_mode(path), runs)
    ratio = both / single
    figure("compare_both_modes", both, "s", frames=frames, runs=runs,
           replay_one_mode_s=round(single, 3), ratio=round(ratio, 3), target="< 2 replays",
           result=verdict(ratio < 2))  # fmt: skip
    figure("compare_peak_rss", peak_rss_mb(), "MB", frames=frames)


if __name__ == "__main__":
    main()
