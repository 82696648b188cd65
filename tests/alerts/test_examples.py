"""The alert examples of docs/alerts.md, tried as a user would: mosquitto_sub, Node-RED running
the documented flow, and Home Assistant's templates rendered against published payloads."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import aiomqtt
import jinja2
import orjson
import pytest
import yaml

from bot.alerts.broker import free_port
from bot.alerts.payloads import alert_payload, position_payload
from bot.core.alerting.alert import Alert, Severity
from bot.core.events import Fill
from bot.core.ledger.figures import account_figures
from bot.core.values import MarginMode, OrderSide
from tests.conftest import ROOT, Broker, make_account, read_until

EXAMPLES = ROOT / "docs/examples"
NODE_RED = ROOT / ".tools/node-red/node_modules/.bin/node-red"
DIVERGENCE = Alert(
    "mark_last_divergence",
    Severity.CRITICAL,
    1_700_000_000_000_000_000,
    "isolated",
    "BTCUSDT",
    "BTCUSDT long (isolated) is 4.99 % from liquidation by the mark but 6.16 % by the last",
)
RISK = Alert(
    "liquidation_risk", Severity.WARNING, 1, "isolated", "BTCUSDT", "margin ratio rose above 50 %"
)


def publish(port: int, topic: str, payload: dict, retain: bool = False) -> None:
    async def send() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="example-pub") as client:
            await client.publish(topic, orjson.dumps(payload), qos=1, retain=retain)

    asyncio.run(send())


def test_mosquitto_sub_prints_the_alert(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    broker.start()
    try:
        sub = subprocess.Popen(
            ["mosquitto_sub", "-p", str(broker.port), "-t", "marginbot/#", "-v", "-C", "1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        asyncio.run(asyncio.sleep(0.3))
        publish(
            broker.port, "marginbot/isolated/alert/mark_last_divergence", alert_payload(DIVERGENCE)
        )
        out, _ = sub.communicate(timeout=10)
    finally:
        broker.stop()
    topic, payload = out.split(" ", 1)
    assert topic == "marginbot/isolated/alert/mark_last_divergence"
    assert json.loads(payload)["kind"] == "mark_last_divergence"


def test_node_red_runs_the_documented_flow(tmp_path: Path) -> None:
    if not NODE_RED.exists() or shutil.which("node") is None:
        pytest.skip("Node-RED is not installed (`make node-red` installs it with npm)")
    broker = Broker(tmp_path)
    broker.start()
    flow = json.loads((EXAMPLES / "node-red-flow.json").read_text())
    for node in flow:
        if node["type"] == "mqtt-broker":
            node["port"] = str(broker.port)  # the flow says 1883; this test's broker is private
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps(flow))
    red = subprocess.Popen(
        [str(NODE_RED), "--userDir", str(tmp_path / "nr"), "--port", str(free_port()), str(flows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log = wait_for(red, "Connected to broker", 60)
        # "Connected" comes before the flow's subscription is in place: send again until the
        # flow has seen them (the checks below need one of each).
        for _attempt in range(10):
            for kind, alert in (("mark_last_divergence", DIVERGENCE), ("liquidation_risk", RISK)):
                publish(broker.port, f"marginbot/isolated/alert/{kind}", alert_payload(alert))
            try:
                log += wait_for(red, RISK.message, 3)
                break
            except AssertionError as missed:
                log += str(missed)
    finally:
        red.terminate()
        red.wait(10)
        broker.stop()
    # The switch sent the critical alert to the "critical" debug node, the other to "other".
    assert "[debug:critical]" in log
    assert DIVERGENCE.message in log.split("[debug:critical]", 1)[1]
    assert "[debug:other]" in log


def wait_for(process: subprocess.Popen[str], needle: str, timeout: float) -> str:
    return "".join(read_until(process, needle, timeout))


def test_home_assistant_templates_render_the_published_payloads() -> None:
    config = yaml.safe_load((EXAMPLES / "home-assistant.yaml").read_text())
    sensors = {s["name"]: s for s in config["mqtt"]["sensor"]}
    [online] = config["mqtt"]["binary_sensor"]
    env = jinja2.Environment(autoescape=False)  # noqa: S701 — plain text, as in Home Assistant

    def render(entity: dict, payload: dict) -> str:
        return env.from_string(entity["value_template"]).render(value_json=payload)

    account = make_account("2000", margin_mode=MarginMode.ISOLATED)
    account.set_mark("BTCUSDT", Decimal(10_000))
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000)))
    [figures] = account_figures(account).positions
    assert figures.liquidation_price is not None
    assert figures.margin_ratio is not None
    position = position_payload("isolated", figures, Decimal(10005))
    price = render(sensors["marginbot isolated BTCUSDT liquidation price"], position)
    assert float(price) == pytest.approx(float(figures.liquidation_price), abs=0.01)
    ratio = render(sensors["marginbot isolated BTCUSDT margin ratio"], position)
    assert float(ratio) == pytest.approx(float(figures.margin_ratio) * 100, abs=0.1)
    flat = {**position, "liquidation_price": None, "margin_ratio": None}
    assert float(render(sensors["marginbot isolated BTCUSDT liquidation price"], flat)) == 0
    long_alert = alert_payload(DIVERGENCE) | {"message": "x" * 400}
    state = render(sensors["marginbot last alert"], long_alert)
    assert state.startswith("critical mark_last_divergence: x")
    assert len(state) == 255
    assert render(online, {"state": "online"}) == online["payload_on"]
    assert render(online, {"state": "offline"}) == online["payload_off"]
