"""A full disk is survived: what cannot be journaled is refused, never applied; the feed goes
on; the daemon resumes by itself when space returns; no order fills at a stale price."""

from __future__ import annotations

import asyncio
import errno
import io
from decimal import Decimal
from pathlib import Path

import aiohttp

from bot.config import load_config
from bot.control.socket_server import send
from bot.daemon import Daemon
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.state.store import StateStore

FALLING = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "mark": [{"at": 0, "price": "10000"}, {"at": 6, "price": "9500"}],
        "last": [{"at": 0, "price": "10000"}, {"at": 6, "price": "9500"}],
    },
    "falling",
)
BUY = {"cmd": "place_order", "account": "a", "symbol": "BTCUSDT", "side": "buy",
       "type": "market", "qty": "0.1"}  # fmt: skip


def _config(tmp_path: Path, sim: Simulator) -> Path:
    path = tmp_path / "d.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        "stale_after_s = 1\n"
        '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "5000"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nport = 0\n"
    )
    return path


async def test_a_full_disk_refuses_inputs_and_the_daemon_resumes_by_itself(
    tmp_path: Path, monkeypatch
) -> None:
    full = {"now": False}
    append = StateStore.append

    def filling(self: StateStore, inputs: list) -> None:
        if full["now"] and inputs:
            raise OSError(errno.ENOSPC, "No space left on device")
        append(self, inputs)

    monkeypatch.setattr(StateStore, "append", filling)
    async with Simulator(ScenarioSource(FALLING, venues=("binance",))) as sim:
        path = _config(tmp_path, sim)
        out = io.StringIO()
        daemon = Daemon(load_config(path), path, out)
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
            await asyncio.sleep(0.02)
        socket = tmp_path / "mb.sock"

        full["now"] = True
        frozen = daemon.engine.prices.get("binance", "BTCUSDT").mark
        refused = await send(socket, BUY)
        await asyncio.sleep(0.5)
        assert daemon.engine.prices.get("binance", "BTCUSDT").mark == frozen  # not applied
        assert daemon.metrics_url is not None
        async with (
            aiohttp.ClientSession() as http,
            http.get(daemon.metrics_url + "/healthz") as answer,
        ):
            health = (answer.status, await answer.text())
        frames = sum(f.stats.frames for f in daemon.feeds)
        await asyncio.sleep(1.5)  # the outage outlasts the feed's stale limit
        stale_order = await send(socket, BUY)
        assert sum(f.stats.frames for f in daemon.feeds) > frames  # the feed goes on

        full["now"] = False  # space returns
        while daemon.storage_error is not None:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        fresh = daemon.engine.prices.get("binance", "BTCUSDT").last
        filled = await send(socket, BUY)
        daemon.stop.set()
        await running
    assert not refused["ok"]
    assert "the journal cannot be written (OSError: No space left on device)" in refused["error"]
    assert health[0] == 503
    assert "the journal cannot be written" in health[1]
    assert not stale_order["ok"]
    assert "s old (feeds are stale after 1 s)" in stale_order["error"]
    assert filled["ok"], filled
    fill = next(e for e in filled["events"] if e["type"] == "order_filled")["fill"]
    price = Decimal(fill["price"])
    assert frozen is not None
    assert fresh is not None
    assert price < frozen  # filled at the price after the outage, never the frozen one
    assert abs(price - fresh) < Decimal(50)
    text = out.getvalue()
    assert text.count("ALERT CRITICAL storage_failed") == 1
    assert "ALERT INFO storage_recovered" in text
    assert daemon.unjournaled > 0


async def test_an_order_for_a_symbol_no_feed_carries_says_how_to_get_prices(
    tmp_path: Path,
) -> None:
    async with Simulator(ScenarioSource(FALLING, venues=("binance",))) as sim:
        path = _config(tmp_path, sim)
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
            await asyncio.sleep(0.02)
        reply = await send(tmp_path / "mb.sock", {**BUY, "symbol": "ETHUSDT"})
        daemon.stop.set()
        await running
    assert not reply["ok"]
    assert reply["error"].startswith("no feed carries ETHUSDT: add it to the symbols of the")
