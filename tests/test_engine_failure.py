"""Calm under failure: bad market data is skipped and counted; an internal engine error stops
the engine, not the daemon, which says so (alert, /healthz, refused commands)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bot.config import accounts_digest, load_config
from bot.control.socket_server import send
from bot.core.engine import Engine
from bot.core.market import Trade
from bot.daemon import Daemon, build_engine
from bot.errors import StateError
from bot.sim import frames
from bot.sim.server import Simulator
from bot.sim.sources import Published
from bot.state.store import StateStore


class ZeroInTheMiddle:
    """Marks and trades at 10,000, one frame of each kind with a price of zero in the middle,
    then trades at 10,100."""

    def frames(self, start_ms: int, speed: float = 1.0) -> Iterator[Published]:  # noqa: ARG002
        steps = ["10000"] * 20 + ["0"] + ["10100"] * 20
        for n, price in enumerate(steps):
            p = Decimal(price)
            for topic, text in (
                frames.binance_mark("BTCUSDT", p, p, Decimal(0), 0, start_ms + n),
                frames.binance_trade("BTCUSDT", p, Decimal(1), n, False, start_ms + n),
            ):
                yield Published(n * 0.02, "binance", topic, text)


_original_on_trade = Engine._on_trade


def broken_on_trade(self: Engine, event: Trade) -> list:
    if event.price == Decimal(10_100):
        raise RuntimeError("a bug in the engine")
    return _original_on_trade(self, event)


def config_file(tmp_path: Path, sim: Simulator) -> Path:
    path = tmp_path / "d.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "5000"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nport = 0\n"
    )
    return path


async def test_a_zero_price_is_skipped_and_the_daemon_goes_on(tmp_path: Path) -> None:
    async with Simulator(ZeroInTheMiddle(), wait_for_subscriber=True) as sim:
        path = config_file(tmp_path, sim)
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        await sim.finished.wait()
        await asyncio.sleep(0.3)
        daemon.stop.set()
        await running
    assert daemon.refused_inputs == {"mark_price": 1, "trade": 1}
    assert daemon.engine_error is None
    prices = daemon.engine.prices.get("binance", "BTCUSDT")
    assert prices.mark == Decimal(10_100)  # what came after the bad frame was applied
    assert prices.last == Decimal(10_100)


async def test_an_internal_error_stops_the_engine_not_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Simulator(ZeroInTheMiddle(), wait_for_subscriber=True, loop=True) as sim:
        path = config_file(tmp_path, sim)
        out = io.StringIO()
        monkeypatch.setattr(Engine, "_on_trade", broken_on_trade)
        daemon = Daemon(load_config(path), path, out)
        running = asyncio.create_task(daemon.run())
        while daemon.engine_error is None:
            await asyncio.sleep(0.02)
        order = {"cmd": "place_order", "account": "a", "symbol": "BTCUSDT"}
        reply = await send(
            tmp_path / "mb.sock", {**order, "side": "buy", "type": "market", "qty": "0.1"}
        )
        assert reply["ok"] is False
        assert "the engine is stopped" in reply["error"]
        assert daemon.metrics_url is not None
        async with (
            aiohttp.ClientSession() as http,
            http.get(daemon.metrics_url + "/healthz") as answer,
        ):
            assert answer.status == 503
            assert "the engine stopped: internal error on a trade input" in await answer.text()
        status = await send(tmp_path / "mb.sock", {"cmd": "query"})
        assert status["daemon"]["engine_error"].endswith("RuntimeError: a bug in the engine")
        daemon.stop.set()
        await running
    assert "ALERT CRITICAL engine_stopped" in out.getvalue()

    # The input that broke it is in the journal; a recovery that meets the same bug says so.
    config = load_config(path)
    store = StateStore(tmp_path / "state", accounts_digest(config))
    for snapshot in (tmp_path / "state").glob("snapshot-*.bin"):
        snapshot.unlink()  # recover from the journal alone, through the broken input
    with pytest.raises(StateError, match="stops the engine"):
        store.recover(lambda: build_engine(config))
    store.close()
