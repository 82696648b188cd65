"""The benchmarks run (small sizes, no thresholds), so their code cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson

from bench.compare import build, marginbot_orders
from bench.workload import run


def test_every_benchmark_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = {line["name"] for line in lines}
    for expected in (
        "replay_throughput", "scale_throughput", "scale_peak_rss", "tick_to_alert_p99",
        "startup_to_subscribed", "import_time", "alert_delivery_p99",
    ):  # fmt: skip
        assert expected in names
    for line in lines:
        assert {"name", "value", "unit", "parameters", "python", "cpu"} <= set(line)
        assert line["value"] > 0
    assert "figure" in result.stdout  # the table


def test_the_comparison_gives_both_engines_the_same_trades(tmp_path: Path) -> None:
    """`make bench-compare`'s marginbot half: each trade frame it replays is a tick written for
    nautilus_trader, in order, with the same price, quantity, side and time; and the pipeline
    opens the bracketed long and keeps it (the triggers rest 15 % away)."""
    ticks = tmp_path / "ticks.txt"
    connections, frames = build(30_000, ticks)
    lines = ticks.read_text().splitlines()
    trades = [orjson.loads(f.text)["data"] for f in frames[2:]]
    assert len(trades) == len(lines) >= 30_000
    assert {orjson.loads(f.text)["data"]["e"] for f in frames[:2]} == {
        "markPriceUpdate",
        "bookTicker",
    }
    for trade, line in zip(trades, lines, strict=True):
        ts, price, qty, maker, trade_id = line.split()
        assert (int(ts), price, qty, maker == "1", int(trade_id)) == (
            trade["T"] * 1_000_000, trade["p"], trade["q"], trade["m"], trade["t"],
        )  # fmt: skip
    assert len({line.split()[4] for line in lines}) == len(lines)  # unique trade ids
    assert sorted(int(line.split()[0]) for line in lines) == [int(x.split()[0]) for x in lines]
    out: list = []
    price = orjson.loads(frames[2].text)["data"]["p"]
    events = run(connections, frames, out.append, orders=marginbot_orders(Decimal(price)))
    assert events == len(frames)
    kinds = [type(item).__name__ for item in out]
    assert kinds.count("OrderFilled") == 1  # the long opened; neither bracket order fired
    assert kinds.count("OrderAccepted") == 3
