"""The daemon over the scripted crash: divergence and liquidation alerts reach a subscriber."""

from __future__ import annotations

import asyncio
import io
import json
import time
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
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
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
    # The liquidated position's retained state says so: a late subscriber sees it closed.
    assert positions[0]["state"] == "open"
    assert positions[-1]["state"] == "closed"
    assert positions[-1]["qty"] == "0"
    statuses = [m["state"] for t, m in received if t == "marginbot/isolated/status"]
    assert statuses[0] == "online"
    assert statuses[-1] == "offline"  # said on the graceful stop
    assert "ALERT CRITICAL mark_last_divergence" in out.getvalue()


def test_daemon_killed_with_pending_alerts_delivers_them_after_restart(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import Broker, read_until

    marginbot = str(Path(sys.executable).with_name("marginbot"))
    broker = Broker(tmp_path)  # not started yet: the first daemon queues
    sim = subprocess.Popen(
        [marginbot, "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = read_until(sim, "simulator on", 10)[-1].split()[-1].replace("http://", "ws://")
        config = tmp_path / "kill.toml"
        config.write_text(
            f'[sim]\nbase_url = "{base}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nport = {broker.port}\n'
            f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n[recording]\nenabled = false\n'
            f'[logging]\nfile = "{tmp_path / "marginbot.jsonl"}"\n[metrics]\nport = 0\n'
        )
        first = subprocess.Popen(
            [marginbot, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        read_until(first, "ALERT INFO daemon_started", 15)  # printed once it is in the outbox
        first.send_signal(signal.SIGKILL)  # ... where it is still pending
        first.wait(5)
        broker.start()
        follower = subprocess.Popen(
            [
                marginbot,
                "alerts",
                "--broker",
                f"127.0.0.1:{broker.port}",
                "--json",
                "--duration",
                "8",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(1.0)
        second = subprocess.run(
            [marginbot, "run", "--config", str(config), "--duration", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        output = follower.communicate(timeout=30)[0]
    finally:
        sim.terminate()
        sim.wait(10)
        broker.stop()
    payloads = [json.loads(line) for line in output.splitlines() if line.strip()]
    started = [p for p in payloads if p.get("kind") == "daemon_started"]
    assert len(started) == 2  # the killed daemon's, delivered by the restarted one, and its own
    assert started[0]["id"] != started[1]["id"]
    assert started[0]["ts_local"] < started[1]["ts_local"]
    assert [p["kind"] for p in payloads if "kind" in p][-1] == "daemon_stopping"


def test_an_alert_without_account_has_one_id_on_every_account_topic(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "1"\n'
        '[[accounts]]\nname = "cross"\nvenue = "binance"\nwallet_balance = "1"\n'
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n[recording]\nenabled = false\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
    )
    daemon = Daemon(load_config(path), path, io.StringIO())
    daemon._daemon_alert("daemon_started", "marginbot started")
    assert daemon.outbox is not None
    [iso] = daemon.outbox.pending("iso")
    [cross] = daemon.outbox.pending("cross")
    assert (iso.topic, cross.topic) == (
        "marginbot/iso/alert/daemon_started",
        "marginbot/cross/alert/daemon_started",
    )
    assert orjson.loads(iso.payload)["id"] == orjson.loads(cross.payload)["id"]
