"""The daemon over the scripted crash: divergence and liquidation alerts reach a subscriber."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiomqtt
import jsonschema
import orjson

from bot.config import load_config
from bot.control.socket_server import send
from bot.daemon import Daemon
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import ROOT

SCHEMAS = {
    name: json.loads((ROOT / f"docs/schemas/{name}.schema.json").read_text())
    for name in ("alert", "status", "position")
}


async def test_crash_alerts_arrive_over_mqtt(tmp_path: Path, mosquitto: int) -> None:
    crash = load_scenario(ROOT / "config/scenarios/crash.toml")
    received: list[tuple[str, dict]] = []

    async def subscribe() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="phone") as client:
            await client.subscribe("marginbot/#", qos=1)
            async for message in client.messages:
                received.append((str(message.topic), orjson.loads(message.payload)))

    listening = asyncio.create_task(subscribe())
    async with Simulator(ScenarioSource(crash, venues=("binance",)), speed=20) as sim:
        path = tmp_path / "alerts.toml"
        path.write_text(
            f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            '[[accounts]]\nname = "isolated"\nvenue = "binance"\nwallet_balance = "2000"\n'
            'margin_mode = "isolated"\nleverage = "10"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
            f"[mqtt]\nport = {mosquitto}\n"
            f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\nposition_interval_s = 0.2\n'
            "[recording]\nenabled = false\n"
        )
        out = io.StringIO()
        daemon = Daemon(load_config(path), path, out)
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
            await asyncio.sleep(0.02)
        reply = await send(
            Path(tmp_path / "mb.sock"),
            {
                "cmd": "place_order",
                "account": "isolated",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "1",
            },
        )
        assert reply["ok"], reply
        await sim.finished.wait()
        daemon.stop.set()
        await running
    await asyncio.sleep(0.3)
    listening.cancel()
    alerts = [m for t, m in received if "/alert/" in t]
    kinds = [a["kind"] for a in alerts]
    assert kinds[0] == "daemon_started"
    [divergence] = [a for a in alerts if a["kind"] == "mark_last_divergence"]
    assert divergence["severity"] == "critical"  # last lags the falling mark by 1 %
    assert divergence["details"]["liquidation_price"].startswith("9036.14")
    [liquidated] = [a for a in alerts if a["kind"] == "liquidated"]
    assert kinds.index("mark_last_divergence") < kinds.index("liquidated")
    assert liquidated["details"]["loss"] == "1000"
    assert kinds[-1] == "daemon_stopping"
    for payload in alerts:
        jsonschema.validate(payload, SCHEMAS["alert"])
    positions = [m for t, m in received if t == "marginbot/isolated/position/BTCUSDT"]
    assert positions
    for payload in positions:
        jsonschema.validate(payload, SCHEMAS["position"])
    statuses = [m["state"] for t, m in received if t == "marginbot/isolated/status"]
    assert statuses[0] == "online"
    assert statuses[-1] == "offline"  # said on the graceful stop
    assert "ALERT CRITICAL mark_last_divergence" in out.getvalue()
