"""Replay throughput: the shipped Binance session, repeated with shifted exchange times to a
million events, through the full pipeline from received frame text to output events (parse,
engine with positions and resting brackets, liquidation check, alert rules; no session writer).

    python -m bench.replay [--quick]
"""

from __future__ import annotations

import argparse
import math

from bench.common import figure, median_seconds, verdict
from bench.workload import load_frames, run

TARGET = 300_000  # events/s on one core (issue 8)
SESSION_EVENTS = 57_654


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one short run (CI smoke run)")
    quick = parser.parse_args().quick
    repeat = 1 if quick else math.ceil(1_000_000 / SESSION_EVENTS)
    runs = 1 if quick else 5
    connections, frames = load_frames(repeat)
    events = run(connections, frames)
    seconds = median_seconds(lambda: run(connections, frames), runs)
    rate = events / seconds
    figure(
        "replay_throughput",
        rate,
        "events/s",
        events=events,
        frames=len(frames),
        runs=runs,
        pipeline="frame text → parse → engine → liquidation → alert rules",
        target=TARGET,
        result=verdict(rate >= TARGET),
    )


if __name__ == "__main__":
    main()
