"""Reconciliation through real ccxt against the simulator while prices move: an unrealized
profit is no drift; a leverage changed on the venue behind our back is, on both venues."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import load_config
from bot.control.socket_server import send
from bot.daemon import Daemon
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.execution.test_testnet import Watch, count

RISING = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "mark": [{"at": 0, "price": "10000"}, {"at": 60, "price": "12000"}],
        "last": [{"at": 0, "price": "10000"}, {"at": 60, "price": "12000"}],
    },
    "rising",
)
TAKER = {"binance": "0.0005", "bybit": "0.00055"}


def _config(tmp_path: Path, sim: Simulator, venue: str) -> Path:
    path = tmp_path / f"{venue}.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
        f'[[feeds]]\nvenue = "{venue}"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        f'[[accounts]]\nname = "acct"\nvenue = "{venue}"\nwallet_balance = "10000"\n'
        'leverage = "10"\nexecution = "testnet"\n'
        f'exchange_url = "{sim.base_url()}"\nreconcile_interval_s = 60\n'
        f'[accounts.fees]\nmaker = "0.0002"\ntaker = "{TAKER[venue]}"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n"
    )
    return path


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_profit_is_no_drift_and_a_leverage_change_behind_our_back_is(
    tmp_path: Path, monkeypatch, venue: str
) -> None:
    monkeypatch.setenv("MARGINBOT_ACCT_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_ACCT_API_SECRET", "sim-secret")
    async with Simulator(ScenarioSource(RISING, venues=(venue,))) as sim:
        path = _config(tmp_path, sim, venue)
        out = io.BytesIO()
        watch = Watch(out)
        daemon = Daemon(load_config(path), path, io.StringIO(), events_out=out)
        running = asyncio.create_task(daemon.run())
        try:
            while daemon.engine.prices.get(venue, "BTCUSDT").last is None:
                await asyncio.sleep(0.02)
            socket = tmp_path / "mb.sock"
            book = sim.rest.exchange if venue == "binance" else sim.rest.bybit
            base = {"account": "acct", "symbol": "BTCUSDT"}
            # The venue starts at its own default leverage: ours is set, and the venue follows.
            leverage = {**base, "cmd": "set_leverage", "leverage": "8"}
            assert (await send(socket, leverage))["ok"]
            await watch.until(lambda e: count("order_mirrored")(e) >= 1)
            buy = {**base, "cmd": "place_order", "side": "buy", "type": "market", "qty": "0.1"}
            assert (await send(socket, buy))["ok"]
            await watch.until(lambda e: count("order_mirrored")(e) >= 2)
            # Reconciliations before the venue booked the fill may see a moment's difference;
            # the one that counts comes after prices have moved on, the position in profit.
            await asyncio.sleep(1.5)
            settled = len(watch.events())
            daemon._reconcile_now["acct"].set()
            await watch.until(lambda e: count("reconciled")(e[settled:]) >= 1)
            local = daemon.engine.desks["acct"].account
            held = local.held("BTCUSDT")
            assert local.marks["BTCUSDT"] > held.entry_price  # an unrealized profit …
            after = watch.events()[settled:]
            assert count("reconciliation_drift")(after) == 0, after  # … is not a drift
            assert book.account.held("BTCUSDT").qty == Decimal("0.1")

            changed = len(watch.events())
            book.account.set_leverage("BTCUSDT", Decimal(5))  # changed on the venue's own site
            daemon._reconcile_now["acct"].set()
            await watch.until(lambda e: count("reconciliation_drift")(e[changed:]) >= 1)
        finally:
            daemon.stop.set()
            await running
    drifts = [e["drift"] for e in watch.events()[changed:] if e["type"] == "reconciliation_drift"]
    assert [(d["symbol"], d["field"], d["local"], d["remote"]) for d in drifts] == [
        ("BTCUSDT", "leverage", "8", "5")
    ]
