"""`kill -9` while trading: the session being recorded replays, with every command the daemon
accepted, and the daemon starts again on its state, every time."""

from __future__ import annotations

import asyncio
import signal
import stat
import subprocess
from pathlib import Path

from bot.control.socket_server import send
from bot.session.io import SessionReader
from bot.session.replay import replay
from tests.conftest import MARGINBOT, ROOT, read_until, sim_process

SESSION = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
RUNS = 3


def _config(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(
        f'[sim]\nbase_url = "{base}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "20000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n[metrics]\nenabled = false\n'
    )
    return path


def test_kill_9_leaves_a_session_that_replays_and_a_state_that_starts(tmp_path: Path) -> None:
    sim, http = sim_process("--speed", "5", "--session", str(SESSION))
    try:
        path = _config(tmp_path, http.replace("http://", "ws://"))
        accepted: list[int] = []
        for run in range(RUNS):
            daemon = subprocess.Popen(
                [MARGINBOT, "run", "--config", str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                read_until(daemon, " ready: ", 30)
                replies = asyncio.run(_trade(tmp_path / "mb.sock", run))
                accepted.append(sum(r["ok"] for r in replies))
                daemon.send_signal(signal.SIGKILL)
                daemon.wait(10)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
    finally:
        sim.terminate()
        sim.wait(10)
    sessions = sorted((tmp_path / "sessions").glob("session-*.jsonl.gz"))
    assert len(sessions) == RUNS
    for session, ok in zip(sessions, accepted, strict=True):
        assert stat.S_IMODE(session.stat().st_mode) == 0o600
        summary = replay(session)
        assert summary.parse_errors == {}
        assert summary.events["mark_price"] > 0, session
        commands = [r for r in SessionReader(session).records() if r["t"] == "command"]
        assert len(commands) == ok == 5  # every accepted command, none lost
    assert stat.S_IMODE((tmp_path / "sessions").stat().st_mode) == 0o700


async def _trade(socket: Path, run: int) -> list[dict]:
    await asyncio.sleep(1.5)  # market data flows, and a timed flush has happened
    replies = []
    for n in range(5):
        side = "buy" if n % 2 == 0 else "sell"
        request = {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "side": side,
                   "type": "market", "qty": "0.01", "id": f"k{run}-{n}"}  # fmt: skip
        replies.append(await send(socket, request))
    await asyncio.sleep(0.3)  # less than the flush interval: the commands were flushed at once
    return replies
