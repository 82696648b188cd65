"""Nothing existing is destroyed, and what the daemon writes is its owner's alone."""

from __future__ import annotations

import asyncio
import io
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bot.config import load_config
from bot.control.socket_server import ControlServer
from bot.daemon import Daemon
from bot.errors import ConfigError
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import MARGINBOT, shared_data


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MARGINBOT, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_import_refuses_an_output_that_is_an_input(tmp_path: Path) -> None:
    source = tmp_path / "a.dat"
    shutil.copy(shared_data("hftbacktest/btcusdt_20230404-05.markprice_trade.dat"), source)
    before = source.read_bytes()
    result = run("import", "--from", "hftbacktest", str(source), str(source))
    assert result.returncode == 2
    assert "is also an input" in result.stderr
    assert source.read_bytes() == before


def test_a_failing_import_leaves_the_existing_output_as_it_was(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.dat"
    lines = shared_data("hftbacktest/btcusdt_20230404-05.markprice_trade.dat").read_text()
    damaged.write_text("".join(lines.splitlines(keepends=True)[:100]) + "not a record\n")
    output = tmp_path / "out.jsonl.gz"
    output.write_bytes(b"an earlier session")
    result = run("import", "--from", "hftbacktest", str(damaged), str(output))
    assert result.returncode == 2
    assert "expected '<local_ts> <payload>'" in result.stderr
    assert output.read_bytes() == b"an earlier session"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_replay_events_out_refuses_the_session_itself(tmp_path: Path) -> None:
    session = tmp_path / "s.jsonl.gz"
    shutil.copy(
        Path(__file__).parents[1] / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz", session
    )
    before = session.read_bytes()
    result = run("replay", str(session), "--events-out", str(session))
    assert result.returncode == 2
    assert session.read_bytes() == before


async def test_the_control_socket_never_replaces_a_file(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        async with ControlServer(precious, lambda _: {}):
            pass
    assert precious.read_text() == "keep me"


FLAT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "hold_s": 30,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)


async def test_state_sessions_and_outbox_are_owner_only(tmp_path: Path, mosquitto) -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        path = tmp_path / "d.toml"
        path.write_text(
            f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "5000"\n'
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
            f"[mqtt]\nport = {mosquitto}\n"
            f'[alerts]\noutbox = "{tmp_path / "outbox" / "outbox.sqlite"}"\n'
            f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        )
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        daemon.stop.set()
        await running
    modes = {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
        for folder in ("state", "sessions", "outbox")
        for p in [tmp_path / folder, *(tmp_path / folder).iterdir()]
    }
    assert modes
    wrong = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert wrong == {}
