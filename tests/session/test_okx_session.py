"""An OKX account end to end on the simulator: OKX public frames over a real websocket, the
daemon's engine, an isolated long liquidated where OKX's formula says (fees included)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from decimal import Decimal
from pathlib import Path

import orjson

from bot.cli.compare import compare
from bot.compare.whatif import Scenario
from bot.config import load_config
from bot.daemon import Daemon
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import ROOT

SYMBOL = "ADA-USDT-SWAP"


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "okx.toml"
    path.write_text(
        f'[sim]\nbase_url = "{base_url}"\n'
        f'[[feeds]]\nvenue = "okx"\nnetwork = "sim"\nsymbols = ["{SYMBOL}"]\n'
        "stale_after_s = 10\n"
        '[[accounts]]\nname = "okx-isolated"\nvenue = "okx"\nwallet_balance = "1000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
        "[mqtt]\nport = 1\n"
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        "[metrics]\nenabled = false\n"
    )
    return path


async def test_an_okx_isolated_long_is_liquidated_at_the_okx_price(tmp_path: Path) -> None:
    crash = ScenarioSource(load_scenario(ROOT / "config/scenarios/okx-crash.toml"), ("okx",))
    async with Simulator(crash, speed=5.0, wait_for_subscriber=True) as sim:
        path = _config(tmp_path, sim.base_url("ws"))
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        while (p := daemon.kernel.prices("okx", SYMBOL)) is None or p.last is None:
            await asyncio.sleep(0.02)
        order = {
            "cmd": "place_order", "account": "okx-isolated", "symbol": SYMBOL, "side": "buy",
            "type": "market", "qty": "2000",
        }  # fmt: skip
        reply = daemon.handler.handle(orjson.dumps(order))
        assert reply["ok"], reply
        position = daemon.kernel.position("okx-isolated", SYMBOL)
        assert position is not None
        entry, margin = position.entry_price, position.isolated_margin
        await sim.finished.wait()
        await asyncio.sleep(0.5)
        daemon.stop.set()
        await running
    # OKX: (size × EP − margin) / (size × (1 − MMR − taker)), tier 1 of the bundled table
    # (2,000 ADA = 20 contracts: MMR 1 %), OKX's regular taker rate 0.05 %.
    expected = (2000 * entry - margin) / (2000 * (1 - Decimal("0.01") - Decimal("0.0005")))
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        payloads = [orjson.loads(p) for (p,) in db.execute("SELECT payload FROM outbox")]
    [liquidated] = {a["id"]: a for a in payloads if a.get("kind") == "liquidated"}.values()
    assert Decimal(liquidated["details"]["liquidation_price"]) == expected
    mark = Decimal(liquidated["details"]["mark_price"])
    assert mark <= expected
    assert mark > expected - Decimal("0.0011")  # the first tick past it (ticks of ≤ 0.001)
    assert daemon.kernel.position("okx-isolated", SYMBOL) is None
    # `marginbot compare --venue okx` over the session the daemon recorded: the same moment.
    assert daemon.recorded is not None
    what_if = compare(
        daemon.recorded,
        Scenario(SYMBOL, "long", Decimal(2000), Decimal(10), Decimal(1000), venue="okx"),
    )
    isolated = what_if["modes"]["isolated"]["liquidated_at"]
    assert isolated["ts_event"] == liquidated["ts_event"]
    assert isolated["mark_price"] == liquidated["details"]["mark_price"]
    assert what_if["modes"]["cross"]["liquidated"] is False
