"""Calm under failure: bad market data is skipped and counted; an input that breaks the engine
(a bug) is quarantined and the engine goes on, live and after a restart."""

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
    # The parsers refuse a price of zero: the frames are counted as malformed, never applied.
    errors = [(feed.route.label, dict(feed.pipeline.errors)) for feed in daemon.feeds]
    assert errors == [
        ("binance.public", {("binance", "bad_price"): 1}),
        ("binance.market", {("binance", "bad_price"): 1}),
    ]
    assert daemon.quarantine.count == 0
    prices = daemon.engine.prices.get("binance", "BTCUSDT")
    assert prices.mark == Decimal(10_100)  # what came after the bad frame was applied
    assert prices.last == Decimal(10_100)


async def test_an_input_that_breaks_the_engine_is_quarantined_and_the_engine_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Simulator(ZeroInTheMiddle(), wait_for_subscriber=True) as sim:
        path = config_file(tmp_path, sim)
        out = io.StringIO()
        monkeypatch.setattr(Engine, "_on_trade", broken_on_trade)
        daemon = Daemon(load_config(path), path, out)
        running = asyncio.create_task(daemon.run())
        await sim.finished.wait()
        await asyncio.sleep(0.3)
        # Every trade at 10,100 broke the engine; the marks after them were still applied.
        assert daemon.quarantine.count == 20
        assert daemon.engine.prices.get("binance", "BTCUSDT").mark == Decimal(10_100)
        order = {"cmd": "place_order", "account": "a", "symbol": "BTCUSDT"}
        reply = await send(
            tmp_path / "mb.sock", {**order, "side": "buy", "type": "market", "qty": "0.1"}
        )
        assert reply["ok"], reply  # the engine goes on trading
        assert daemon.metrics_url is not None
        async with aiohttp.ClientSession() as http:
            async with http.get(daemon.metrics_url + "/healthz") as answer:
                assert answer.status == 200
                text = await answer.text()
            async with http.get(daemon.metrics_url + "/metrics") as answer:
                metrics = await answer.text()
        assert "note: 20 inputs quarantined (last: a trade input: RuntimeError" in text
        assert "marginbot_inputs_quarantined_total 20.0" in metrics
        status = await send(tmp_path / "mb.sock", {"cmd": "query"})
        assert status["daemon"]["quarantined_inputs"] == 20
        position = daemon.engine.desks["a"].account.held("BTCUSDT")
        daemon.stop.set()
        await running
    assert out.getvalue().count("ALERT CRITICAL input_quarantined") == 1  # once per kind
    lines = (tmp_path / "state" / "quarantine.jsonl").read_text().splitlines()
    assert len(lines) == 20
    assert '"input":"trade"' in lines[0]
    assert "a bug in the engine" in lines[0]
    assert oct((tmp_path / "state" / "quarantine.jsonl").stat().st_mode & 0o777) == "0o600"

    # A restart replays the journal through the same bug: it skips the same inputs and ends
    # on the same ledger, every time.
    config = load_config(path)
    for snapshot in (tmp_path / "state").glob("snapshot-*.bin"):
        snapshot.unlink()  # recover from the journal alone, through the broken inputs
    for _ in range(2):
        store = StateStore(tmp_path / "state", accounts_digest(config))
        recovery = store.recover(lambda: build_engine(config))
        store.close()
        assert recovery.quarantined == 20
        again = recovery.engine.desks["a"].account.held("BTCUSDT")
        assert (again.qty, again.entry_price) == (position.qty, position.entry_price)
