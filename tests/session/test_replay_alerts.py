"""Replay reproduces the alerts: a live daemon over the simulator's scripted crash puts its
alerts in the outbox; replaying the session it recorded, with its configuration, gives the same
alerts (kind, account, symbol, severity, message, figures, id), byte for byte on every replay.
Only the process's own alerts (started, stopping, feed health) are not replayed."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bot.cli.compare import compare
from bot.compare.whatif import Scenario
from bot.config import load_config
from bot.daemon import Daemon, build_kernel
from bot.session.replay import replay
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import ROOT

PROCESS_KINDS = {"daemon_started", "daemon_stopping", "feed_stale", "feed_recovered"}
COMPARED = ("id", "kind", "account", "symbol", "severity", "message", "ts_event", "details")


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "crash.toml"
    path.write_text(
        f'[sim]\nbase_url = "{base_url}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        "stale_after_s = 10\n"
        '[[accounts]]\nname = "isolated"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        '[[accounts]]\nname = "cross"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "cross"\nleverage = "10"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
        "[mqtt]\nport = 1\n"  # nothing listens there: every alert stays in the outbox
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        "[metrics]\nenabled = false\n"
    )
    return path


def _outbox_alerts(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT topic, payload FROM outbox ORDER BY seq").fetchall()
    seen: dict[str, dict[str, Any]] = {}
    for topic, payload in rows:
        if "/alert/" in topic:
            alert = orjson.loads(payload)
            seen.setdefault(alert["id"], alert)  # one copy per account for account-less ones
    return list(seen.values())


async def test_replay_gives_the_alerts_the_live_daemon_put_in_its_outbox(tmp_path: Path) -> None:
    crash = ScenarioSource(load_scenario(ROOT / "config/scenarios/crash.toml"), ("binance",))
    async with Simulator(crash, speed=10.0, wait_for_subscriber=True) as sim:
        path = _config(tmp_path, sim.base_url("ws"))
        config = load_config(path)
        daemon = Daemon(config, path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        while (p := daemon.kernel.prices("binance", "BTCUSDT")) is None or p.last is None:
            await asyncio.sleep(0.02)
        for account in ("isolated", "cross"):  # the demo's positions: 10x, 10,000 USDT long
            order = {
                "cmd": "place_order", "account": account, "symbol": "BTCUSDT", "side": "buy",
                "type": "market", "qty": "1",
            }  # fmt: skip
            assert daemon.handler.handle(orjson.dumps(order))["ok"]
        await sim.finished.wait()
        await asyncio.sleep(0.5)  # the last frames reach the daemon
        daemon.stop.set()
        await running
        assert daemon.recorded is not None
    live = [a for a in _outbox_alerts(tmp_path / "outbox.sqlite") if a["kind"] not in PROCESS_KINDS]
    kinds = {a["kind"] for a in live}
    assert {"mark_last_divergence", "liquidation_risk", "liquidated"} <= kinds, kinds

    replays = []
    for _ in range(2):
        out = io.BytesIO()
        summary = replay(daemon.recorded, events_out=out, kernel=build_kernel(config))
        assert summary.commands == 2
        replays.append(out.getvalue())
    assert replays[0] == replays[1]  # byte for byte, run after run
    replayed = [
        orjson.loads(line)
        for line in replays[0].splitlines()
        if line.startswith(b'{"type":"alert"')
    ]
    assert [{k: a[k] for k in COMPARED} for a in replayed] == [
        {k: a[k] for k in COMPARED} for a in live
    ]
    # `marginbot compare` over the same recording finds the isolated liquidation where the live
    # daemon had it: the same moment, the same mark.
    [liquidated] = [a for a in live if a["kind"] == "liquidated" and a["account"] == "isolated"]
    what_if = compare(
        daemon.recorded, Scenario("BTCUSDT", "long", Decimal(1), Decimal(10), Decimal(2000))
    )
    isolated = what_if["modes"]["isolated"]["liquidated_at"]
    assert isolated["ts_event"] == liquidated["ts_event"]
    assert isolated["mark_price"] == liquidated["details"]["mark_price"]
    assert what_if["modes"]["cross"]["liquidated"] is False
