"""A daemon with the web view on, fed by the simulator, with a position in each margin mode."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from bot.config import load_config
from bot.daemon import Daemon
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource

DRIFT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 100,
        "mark": [{"at": 0, "price": "10000"}, {"at": 180, "price": "9400"}],
        "last": [{"at": 0, "price": "10010"}, {"at": 180, "price": "9450"}],
    },
    "drift",
)


def web_config(tmp_path: Path, base_url: str, web: str = "port = 0") -> Path:
    path = tmp_path / "web.toml"
    path.write_text(
        f'[sim]\nbase_url = "{base_url}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        "stale_after_s = 5\n"
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        '[[accounts]]\nname = "crs"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "cross"\nleverage = "10"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
        "[mqtt]\nenabled = false\n"
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
        "[recording]\nenabled = false\n[metrics]\nport = 0\n"
        f"[web]\nenabled = true\nrefresh_s = 0.2\n{web}\n"
    )
    return path


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[Daemon]:
    """The daemon, running, with a 1 BTC long open in each account."""
    async with Simulator(ScenarioSource(DRIFT, venues=("binance",))) as sim:
        path = web_config(tmp_path, sim.base_url("ws"))
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        prices = daemon.engine.prices
        while (p := prices.symbols.get(("binance", "BTCUSDT"))) is None or p.last is None:
            await asyncio.sleep(0.02)
        for account in ("iso", "crs"):
            order = {
                "cmd": "place_order", "account": account, "symbol": "BTCUSDT",
                "side": "buy", "type": "market", "qty": "1",
            }  # fmt: skip
            reply = daemon.handler.handle(orjson.dumps(order))
            assert reply["ok"], reply
        try:
            yield daemon
        finally:
            daemon.stop.set()
            await asyncio.wait_for(running, 30)
