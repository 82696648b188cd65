"""Start-up: the package's import time, and `marginbot run` from process start to ready and to
its feed subscribed (against the simulator on loopback). Median of 5.

    python -m bench.startup [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import figure, verdict
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.5


def import_seconds() -> float:
    done = subprocess.run(
        [sys.executable, "-c",
         "import time; t = time.perf_counter(); import bot.daemon; print(time.perf_counter() - t)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout)


async def start_once(directory: Path, sim_url: str) -> tuple[float, float]:
    path = directory / "startup.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim_url}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "1000"\n'
        f'[state]\ndirectory = "{directory / "state"}"\n'
        f'[control]\nsocket = "{directory / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nport = 0\n[logging]\nfile = ''\n"
    )
    started = time.perf_counter()
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "run", "--config", str(path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert daemon.stdout is not None
    assert daemon.stderr is not None
    ready = subscribed = 0.0
    while not ready:
        line = await daemon.stdout.readline()
        if not line:
            raise RuntimeError("the daemon stopped before it was ready")
        if b" ready: " in line:
            ready = time.perf_counter() - started
    while not subscribed:
        line = await daemon.stderr.readline()
        if not line:
            raise RuntimeError("the daemon stopped before its feed connected")
        if b"feed_connected" in line:
            subscribed = time.perf_counter() - started
    daemon.terminate()
    await daemon.wait()
    return ready, subscribed


async def start_up(runs: int) -> list[tuple[float, float]]:
    source = ScenarioSource(load_scenario(ROOT / "config/scenarios/crash.toml"), ("binance",))
    async with Simulator(source, loop=True) as sim:
        results = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(await start_once(Path(tmp), sim.base_url("ws")))
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one run (CI smoke run)")
    runs = 1 if parser.parse_args().quick else 5
    imports = statistics.median(import_seconds() for _ in range(runs))
    results = asyncio.run(start_up(runs))
    ready = statistics.median(r for r, _ in results)
    subscribed = statistics.median(s for _, s in results)
    figure("import_time", imports, "s", module="bot.daemon", runs=runs)
    figure("startup_to_ready", ready, "s", runs=runs)
    figure("startup_to_subscribed", subscribed, "s", runs=runs, target=TARGET_S,
           result=verdict(subscribed <= TARGET_S))  # fmt: skip


if __name__ == "__main__":
    main()
