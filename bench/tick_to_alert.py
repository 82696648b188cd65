"""Tick-to-alert latency: a mark-price frame leaves the simulator over a loopback websocket,
the daemon (its own process, `marginbot run`) parses it, values the ledger, fires a rule, puts
the alert in its SQLite outbox and publishes it at QoS 1 through a real Mosquitto; the time ends
when the subscriber, a process of its own standing in for the trader's phone (`bench.phone`),
receives it.

An isolated 10x long of 1 BTCUSDT at 10,000 sees the mark alternate between about 9,060
(margin ratio above 50 %) and 9,200 (below 40 %), so with no cooldown every tick raises a
`liquidation_risk` alert, up or down. Each tick's price is unique, and the alert carries it:
that is how a received alert finds the time its frame was sent.

    python -m bench.tick_to_alert [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson

from bench.common import latency_figures
from bench.phone import Phone
from bot.alerts.broker import PrivateBroker
from bot.control.socket_server import send
from bot.sim import frames
from bot.sim.hub import Hub
from bot.sim.server import Simulator
from bot.sim.sources import Published

TARGET_P99_MS = 1.0
WARMUP_S = 1.5  # steady 10,000 while the order is placed
SPACING_S = 0.002


class Oscillation:
    def __init__(self, ticks: int) -> None:
        self.ticks = ticks

    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:  # noqa: ARG002
        steady = Decimal(10_000)
        for n in range(int(WARMUP_S / SPACING_S)):
            for topic, text in (
                frames.binance_mark("BTCUSDT", steady, steady, Decimal(0), 0, start_ms),
                frames.binance_trade("BTCUSDT", steady, Decimal(1), n, False, start_ms),
            ):
                yield Published(n * SPACING_S, "binance", topic, text)
        for k in range(self.ticks):
            near = k % 2 == 0
            price = (Decimal(9_060) if near else Decimal(9_200)) - Decimal(k) / 10_000
            t = WARMUP_S + k * SPACING_S
            topic, text = frames.binance_mark("BTCUSDT", price, price, Decimal(0), 0, start_ms)
            yield Published(t, "binance", topic, text)


class TimedHub(Hub):
    """Notes when each mark frame is handed to the subscribers' connections: after the
    simulator's own bookkeeping (its parser and its order books), which is the exchange's
    time, not marginbot's. Until 2026-12-01 the clock started before it."""

    def __init__(self, sent: dict[str, float]) -> None:
        super().__init__()
        self.sent = sent

    def publish(self, venue: str, topic: str, text: str) -> None:
        if "@markPrice" in topic:
            price = orjson.loads(text)["data"]["p"]
            self.sent[price] = time.perf_counter()
        super().publish(venue, topic, text)


class TimedSimulator(Simulator):
    sent: dict[str, float]


def config(directory: Path, sim_url: str, port: int) -> Path:
    path = directory / "bench.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim_url}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        f'[state]\ndirectory = "{directory / "state"}"\n'
        f'[control]\nsocket = "{directory / "mb.sock"}"\n'
        f'[mqtt]\nport = {port}\nprefix = "bench"\nclient_id = "bench-daemon"\n'
        f'[alerts]\noutbox = "{directory / "outbox.sqlite"}"\ncooldown_s = 0\n'
        "position_interval_s = 3600\n"
        "[recording]\nenabled = false\n[metrics]\nenabled = false\n"
        f'[logging]\nfile = "{directory / "marginbot.jsonl"}"\nlevel = "warning"\n'
    )
    return path


async def measure(ticks: int, directory: Path, port: int) -> list[float]:
    sim = TimedSimulator(Oscillation(ticks), wait_for_subscriber=True)
    sim.sent = {}
    sim.hub = TimedHub(sim.sent)
    async with Phone(port, "bench/iso/alert/liquidation_risk", ticks) as phone, sim:
        path = config(directory, sim.base_url("ws"), port)
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli.main", "run", "--config", str(path),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            socket = directory / "mb.sock"
            while not socket.exists():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            # This process stands in for the exchange and the phone: a full collection of its
            # own heap (tens of ms) would be charged to marginbot. The daemon does the same.
            gc.collect()
            gc.freeze()
            order = {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT"}
            reply = await send(socket, {**order, "side": "buy", "type": "market", "qty": "1"})
            if not reply.get("ok"):
                raise RuntimeError(f"the position was not opened: {reply}")
            received = await phone.received(timeout_s=ticks * SPACING_S + 60)
        finally:
            daemon.terminate()
            await daemon.wait()
    latencies = []
    for at, alert in received:
        sent = sim.sent.get(alert["details"]["mark_price"])
        if sent is not None:
            latencies.append((at - sent) * 1e3)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke run)")
    ticks = 300 if parser.parse_args().quick else 10_000
    with tempfile.TemporaryDirectory() as tmp, PrivateBroker(Path(tmp)) as broker:
        latencies = asyncio.run(measure(ticks, Path(tmp), broker.port))
    latency_figures(
        "tick_to_alert",
        latencies,
        TARGET_P99_MS,
        alerts=len(latencies),
        path="sim websocket → daemon process → outbox → Mosquitto (QoS 1) → subscriber",
    )


if __name__ == "__main__":
    main()
