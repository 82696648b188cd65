"""Replay throughput of the shipped Binance session: frames → parse → events → price board.

python -m bench.replay [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import figure, median_seconds
from bot.session.replay import replay

SESSION = (
    Path(__file__).resolve().parent.parent
    / "bot/data/sessions"
    / ("binance-btcusdt-20230404.jsonl.gz")
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one run (CI smoke run)")
    quick = parser.parse_args().quick
    summary = replay(SESSION)
    events = sum(summary.events.values())
    seconds = median_seconds(lambda: replay(SESSION), 1 if quick else 5)
    figure(
        "replay_throughput",
        events / seconds,
        "events/s",
        session=SESSION.name,
        records=summary.records,
        events=events,
        runs=1 if quick else 5,
    )
    figure(
        "replay_throughput_records", summary.records / seconds, "records/s", session=SESSION.name
    )


if __name__ == "__main__":
    main()
