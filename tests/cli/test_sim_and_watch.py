"""`marginbot sim` and `marginbot watch` as a user runs them: two processes, real loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot.config import config_digest
from bot.session.io import SessionReader
from tests.conftest import ROOT

MARGINBOT = str(Path(sys.executable).with_name("marginbot"))


def test_watch_shows_live_prices_from_the_simulator() -> None:
    sim = subprocess.Popen(
        [
            MARGINBOT,
            "sim",
            "--port",
            "0",
            "--scenario",
            str(ROOT / "config/scenarios/crash.toml"),
            "--speed",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        first = sim.stdout.readline()
        assert first.startswith("marginbot simulator on http://127.0.0.1:")
        base = first.split()[-1].replace("http://", "ws://")
        watch = subprocess.run(
            [
                MARGINBOT,
                "watch",
                "--venue",
                "bybit",
                "--sim",
                base,
                "--duration",
                "3",
                "--interval",
                "0.5",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert watch.returncode == 0, watch.stderr
    rows = [
        line
        for line in watch.stdout.splitlines()
        if re.match(r"\d\d:\d\d:\d\d +bybit +BTCUSDT ", line)
    ]
    assert len(rows) >= 4
    marks = [float(row.split()[3].replace(",", "")) for row in rows if row.split()[3] != "--"]
    assert marks[-1] < marks[0]  # the crash is under way (10x speed)
    assert "0 malformed frames skipped" in watch.stdout
    assert sim.returncode == 0  # SIGTERM stops it cleanly


def test_watch_with_an_unknown_network_exits_2() -> None:
    result = subprocess.run(
        [MARGINBOT, "watch", "--venue", "okx", "--network", "testnet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "okx has no 'testnet' network; choose one of sim, mainnet, demo" in result.stderr


def test_watch_from_config_records_a_session_that_replays(tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [MARGINBOT, "sim", "--port", "0", "--speed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        base = sim.stdout.readline().split()[-1].replace("http://", "ws://")
        config = tmp_path / "watch.toml"
        config.write_text(
            f'[sim]\nbase_url = "{base}"\n[[feeds]]\nvenue = "binance"\nnetwork = "sim"\n'
            f'symbols = ["BTCUSDT"]\n[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        )
        watch = subprocess.run(
            [MARGINBOT, "watch", "--config", str(config), "--duration", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert watch.returncode == 0, watch.stderr
    assert f"session recorded in {tmp_path / 'sessions'}" in watch.stdout
    [session] = list((tmp_path / "sessions").glob("session-*.jsonl.gz"))
    replayed = subprocess.run(
        [MARGINBOT, "replay", str(session)], capture_output=True, text=True, timeout=60, check=False
    )
    assert replayed.returncode == 0
    assert "mark_price" in replayed.stdout
    header = SessionReader(session).header()
    assert header["config_digest"] == config_digest(config)
    assert "clock skew" in watch.stdout
    assert "parse errors                 0" in replayed.stdout


async def test_a_scenario_starts_when_the_first_client_subscribes() -> None:
    """Typed by hand a while after `marginbot sim --scenario`, a daemon still sees the story
    from its first price, not mid-crash."""
    import asyncio

    import orjson
    from websockets.asyncio.client import connect

    from tests.conftest import ROOT, sim_process

    crash = str(ROOT / "config/scenarios/crash.toml")
    sim, http = sim_process("--scenario", crash, "--speed", "10")
    try:
        await asyncio.sleep(2.5)  # 25 s of scenario time: the crash would be under way by now
        url = http.replace("http://", "ws://") + "/market/stream?streams=btcusdt@markPrice@1s"
        async with connect(url, compression=None, proxy=None) as ws:
            first = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    finally:
        sim.terminate()
        sim.wait(10)
    assert first["data"]["p"] == "10000"
