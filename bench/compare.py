"""`make bench-compare`: marginbot and nautilus_trader's backtest engine on the same trade ticks.

The shipped Binance session's market trades, repeated with shifted times to at least a million,
go through both in the same run:
- marginbot: the full pipeline of `bench.replay` from each trade's frame text (parse, engine
  with an isolated long and its take-profit and stop-loss resting 15 % away, liquidation check,
  alert rules), after one mark and one book frame so that the position is valued;
- nautilus_trader (`bench/nautilus_side.py`, in its own environment .tools/nautilus): its
  BacktestEngine with a strategy that opens the same long at the first tick with an OUO
  take-profit/stop-loss bracket 15 % away, the ticks as nautilus `TradeTick`s.
Both count only the processing (frames and ticks are built beforehand); each is timed over
`--runs` runs and its best is kept, for the noise of shared machines. Prints one JSON line per
figure and the ratio marginbot / nautilus_trader.

    python -m bench.compare [--ticks N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bench.common import figure, peak_rss_mb
from bench.workload import ROOT, SESSION, Frame, parse_all, run
from bot.session.io import SessionReader
from bot.sim.sources import _retime

NAUTILUS = ROOT / ".tools/nautilus/bin/python"
DISTANCE = Decimal("0.15")


def session_trades() -> tuple[list[tuple[str, str]], list[Frame], list[dict[str, Any]]]:
    """(connections, frames before the first trade: a mark and a book, market trade docs)."""
    connections: list[tuple[str, str]] = []
    priming: dict[str, Frame] = {}
    trades: list[dict[str, Any]] = []
    for record in SessionReader(SESSION).records():
        if record.get("t") == "connect":
            connections.append((record["conn"], record.get("venue", "")))
        if record.get("t") != "recv" or "data" not in record:
            continue
        document = orjson.loads(record["data"])
        kind = document.get("data", {}).get("e")
        if kind in ("markPriceUpdate", "bookTicker") and kind not in priming:
            priming[kind] = Frame(record["conn"], record["data"], record["ts"])
        elif kind == "trade" and document["data"].get("X", "MARKET") == "MARKET":
            document["_conn"], document["_ts"] = record["conn"], record["ts"]
            trades.append(document)
    return connections, list(priming.values()), trades


def build(ticks: int, ticks_file: Path) -> tuple[list[tuple[str, str]], list[Frame]]:
    """marginbot's frames, and the same trades written for nautilus_trader."""
    connections, priming, trades = session_trades()
    span_ms = trades[-1]["data"]["T"] - trades[0]["data"]["T"] + 1_000
    frames = list(priming)
    with ticks_file.open("w") as out:
        for n in range(math.ceil(ticks / len(trades))):
            for document in trades:
                moved = {k: v for k, v in document.items() if not k.startswith("_")}
                moved["data"] = dict(document["data"])
                _retime(moved, 0, n * span_ms, 1.0)
                data = moved["data"]
                data["t"] = data["t"] + n * 10_000_000_000  # trade ids stay unique
                text = orjson.dumps(moved).decode()
                frames.append(Frame(document["_conn"], text, document["_ts"] + n * span_ms))
                maker = 1 if data["m"] else 0
                out.write(f"{data['T'] * 1_000_000} {data['p']} {data['q']} {maker} {data['t']}\n")
    return connections, frames


def marginbot_orders(price: Decimal) -> list[dict[str, Any]]:
    step = Decimal("0.1")  # a multiple of both the venue's and nautilus' tick size
    take_profit = (price * (1 + DISTANCE)).quantize(step)
    stop_loss = (price * (1 - DISTANCE)).quantize(step)
    return [
        {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "side": "buy",
         "type": "market", "qty": "0.3"},
        {"cmd": "set_tp_sl", "account": "iso", "symbol": "BTCUSDT",
         "take_profit": str(take_profit), "stop_loss": str(stop_loss),
         "take_profit_source": "last", "stop_loss_source": "last"},
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=1_000_000, help="at least this many trades")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the best is kept")
    args = parser.parse_args()
    if not NAUTILUS.exists():
        sys.stderr.write("nautilus_trader is not installed: run `make bench-compare`\n")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        ticks_file = Path(scratch) / "ticks.txt"
        connections, frames = build(args.ticks, ticks_file)
        trades = len(frames) - 2
        price = Decimal(orjson.loads(frames[2].text)["data"]["p"])
        orders = marginbot_orders(price)
        kinds: list[str] = []
        run(connections, frames, lambda item: kinds.append(type(item).__name__), orders=orders)
        if (kinds.count("OrderAccepted"), kinds.count("OrderFilled")) != (3, 1):
            sys.stderr.write(f"marginbot's bracket did not rest as intended: {kinds[:10]}\n")
            return 1
        best = math.inf
        for _ in range(args.runs):
            started = time.perf_counter()
            events = run(connections, frames, orders=orders)
            best = min(best, time.perf_counter() - started)
        ours = figure("compare_marginbot", trades / best, "trades/s", trades=trades,
                      events=events, runs=args.runs, peak_rss_mb=round(peak_rss_mb(), 1),
                      pipeline="frame text → parse → engine → alert rules")  # fmt: skip
        # nautilus_trader is handed ready-made TradeTicks: the same footing for marginbot.
        parsed = parse_all(connections, frames)
        best = math.inf
        for _ in range(args.runs):
            started = time.perf_counter()
            run(connections, frames, orders=orders, parsed=parsed)
            best = min(best, time.perf_counter() - started)
        del parsed
        engine_only = figure("compare_marginbot_parsed", trades / best, "trades/s",
                             trades=trades, runs=args.runs,
                             pipeline="Trade events → engine → alert rules")  # fmt: skip
        theirs: dict[str, Any] = {}
        for _ in range(args.runs):
            done = subprocess.run(
                [str(NAUTILUS), str(ROOT / "bench/nautilus_side.py"), str(ticks_file)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if (result["open_orders"], result["open_positions"]) != (2, 1):
                sys.stderr.write(f"nautilus_trader's bracket did not rest as intended: {result}\n")
                return 1
            if not theirs or result["seconds"] < theirs["seconds"]:
                theirs = result
    nautilus = figure("compare_nautilus_trader", theirs["ticks_per_s"], "trades/s",
                      trades=theirs["ticks"], runs=args.runs,
                      peak_rss_mb=round(theirs["peak_rss_mb"], 1),
                      version=theirs["version"], open_orders=theirs["open_orders"],
                      pipeline="TradeTick → BacktestEngine → OUO bracket strategy")  # fmt: skip
    figure("compare_ratio", ours["value"] / nautilus["value"], "marginbot/nautilus",
           marginbot="from frame text")  # fmt: skip
    figure("compare_ratio_parsed", engine_only["value"] / nautilus["value"],
           "marginbot/nautilus", marginbot="from parsed events, as nautilus")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
