"""The daemon with real components: simulator feed, control socket, MQTT through Mosquitto,
and the recorded session replaying to the same fills, byte for byte."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiomqtt
import orjson
import pytest

from bot.config import load_config
from bot.control.signing import sign
from bot.control.socket_server import send
from bot.daemon import Daemon, build_kernel
from bot.errors import ConfigError
from bot.session.replay import replay
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import ROOT

MARGINBOT = str(Path(sys.executable).with_name("marginbot"))


def write_config(tmp_path: Path, sim_base: str, mqtt_port: int | None) -> Path:
    mqtt = (
        f'[mqtt]\nport = {mqtt_port}\nprefix = "mb-test"\ncommands = true\n'
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
        if mqtt_port
        else "[mqtt]\nenabled = false\n"
    )
    path = tmp_path / "daemon.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim_base}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        "stale_after_s = 5\n"
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        '[[accounts]]\nname = "cross"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'leverage = "10"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n{mqtt}'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
    )
    return path


async def wait_for_price(daemon: Daemon) -> None:
    while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
        await asyncio.sleep(0.02)


async def test_live_fills_replay_byte_for_byte_and_the_stop_fires_on_mark(tmp_path) -> None:
    crash = load_scenario(ROOT / "config/scenarios/crash.toml")
    async with Simulator(ScenarioSource(crash, venues=("binance",)), speed=20) as sim:
        config_path = write_config(tmp_path, sim.base_url("ws"), None)
        config = load_config(config_path)
        live = io.BytesIO()
        daemon = Daemon(config, config_path, io.StringIO(), events_out=live)
        running = asyncio.create_task(daemon.run())
        await wait_for_price(daemon)
        socket_path = Path(config.control.socket)
        for request in (
            {
                "cmd": "place_order",
                "account": "iso",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "0.2",
            },
            {
                "cmd": "set_tp_sl",
                "account": "iso",
                "symbol": "BTCUSDT",
                "stop_loss": "9200",
                "stop_loss_source": "mark",
                "take_profit": "10500",
                "take_profit_source": "last",
            },
            {
                "cmd": "place_order",
                "account": "cross",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "1.5",
            },  # LP (2000 − 7.5 fee − 15000) / (0.006 − 1.5)
            {
                "cmd": "place_order",
                "account": "cross",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "0.0001",
            },
        ):
            reply = await send(socket_path, {"id": "t", **request})
            assert reply["id"] == "t"
        assert reply["ok"] is False
        assert "lot size" in reply["error"]
        await sim.finished.wait()
        daemon.stop.set()
        await running
    live_events = [orjson.loads(line) for line in live.getvalue().splitlines()]
    [triggered] = [e for e in live_events if e["type"] == "order_triggered"]
    assert (triggered["role"], triggered["source"]) == ("stop_loss", "mark")
    [liquidated] = [e for e in live_events if e["type"] == "position_liquidated"]
    assert liquidated["account"] == "cross"
    [gone] = liquidated["liquidation"]["positions"]
    assert gone["liquidation_price"].startswith("8706.49")
    # Replaying the recorded session gives the same engine events and the same alerts, with
    # the same ids, byte for byte.
    assert any(e["type"] == "alert" and e["kind"] == "liquidated" for e in live_events)
    [session] = list((tmp_path / "sessions").glob("*.jsonl.gz"))
    replayed = io.BytesIO()
    replay(session, events_out=replayed, kernel=build_kernel(config))
    engine_lines = [
        line
        for line in replayed.getvalue().splitlines()
        if orjson.loads(line)["type"].split("_")[0]
        in {"order", "position", "funding", "setting", "command", "alert"}
    ]
    assert engine_lines == live.getvalue().splitlines()


SECRET = "0123456789abcdef0123456789abcdef"


def signed(request: dict, secret: str = SECRET, ts_ms: int | None = None) -> bytes:
    ts = int(time.time() * 1000) if ts_ms is None else ts_ms
    return sign(secret, orjson.dumps(request).decode(), ts)


async def test_signed_commands_over_mqtt_through_a_real_broker(
    tmp_path, mosquitto, monkeypatch
) -> None:
    monkeypatch.setenv("MARGINBOT_ISO_COMMAND_SECRET", SECRET)
    crash = load_scenario(ROOT / "config/scenarios/crash.toml")
    async with Simulator(ScenarioSource(crash, venues=("binance",))) as sim:
        config = load_config(write_config(tmp_path, sim.base_url("ws"), mosquitto))
        daemon = Daemon(config, None, io.StringIO())
        running = asyncio.create_task(daemon.run())
        await wait_for_price(daemon)
        buy = {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "side": "buy",
               "type": "market", "qty": "0.1"}  # fmt: skip
        hostile = [
            orjson.dumps({"id": "u1", **buy}),  # unsigned, as anyone on the broker could send
            signed({"id": "u2", **buy}, secret="not-the-secret-at-all-0000000000"),
            signed({"id": "u3", **buy}, ts_ms=int(time.time() * 1000) - 120_000),  # stale
            signed({"id": "u4", **buy, "account": "cross"}),  # an account without a secret
            signed({**buy}),  # no id
            signed({"id": "a#b", **buy}),
            signed({"id": "a+b", **buy}),
            signed({"id": "a\u0000b", **buy}),
            signed({"id": "x" * 70_000, **buy}),
            b"[" * 1024,
            b"\xff\xfe not json",
            signed({"id": "n1", **buy, "qty": "NaN"}),
            signed(
                {
                    "id": "n2",
                    "cmd": "set_leverage",
                    "account": "iso",
                    "symbol": "BTCUSDT",
                    "leverage": "Infinity",
                }
            ),
        ]
        requests = [
            signed({"id": "r0", **buy}),
            signed(
                {
                    "id": "r1",
                    "cmd": "set_margin_mode",
                    "account": "iso",
                    "symbol": "BTCUSDT",
                    "margin_mode": "cross",
                }
            ),
            signed({"id": "r2", "cmd": "query", "account": "iso"}),
            signed({"id": "r3", "cmd": "fly", "account": "iso"}),
        ]
        async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="trader") as client:
            await client.subscribe("mb-test/reply/#", qos=1)
            while not daemon.commands.connected:
                await asyncio.sleep(0.02)
            # Taking the id the daemon's listener used to have knocks nobody off.
            async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="marginbot-cmd"):
                for payload in [*hostile, requests[0], requests[0], *requests[1:]]:
                    await client.publish("mb-test/cmd", payload, qos=1)
                replies: list[tuple[str, dict]] = []
                async with asyncio.timeout(10):
                    async for message in client.messages:
                        replies.append((str(message.topic), orjson.loads(message.payload)))
                        if len(replies) == len(hostile) + 5:
                            break
        assert daemon.commands.failures == 0
        assert not daemon.command_task.done()
        position = daemon.engine.desks["iso"].account.held("BTCUSDT")
        daemon.stop.set()
        await running
    by_id: dict = {}
    for topic, reply in replies:
        by_id.setdefault(reply.get("id"), (topic, reply))  # r0's replay comes second
    errors = [reply["error"] for _, reply in replies if not reply["ok"]]
    assert position.qty == Decimal("0.1")  # r0 once: its replay and every hostile one refused
    assert by_id["r0"][0] == "mb-test/reply/r0"
    assert [e["type"] for e in by_id["r0"][1]["events"]] == ["order_accepted", "order_filled"]
    assert by_id["u1"][1]["error"].startswith("refused: unsigned")
    assert "signature does not match" in by_id["u2"][1]["error"]
    assert "away from the daemon's clock" in by_id["u3"][1]["error"]
    assert "account 'cross' takes no MQTT commands" in by_id["u4"][1]["error"]
    assert any("needs an id" in e for e in errors)
    assert any("was already accepted: a replay" in e for e in errors)
    assert by_id["n1"][1]["error"] == "qty: NaN is not a finite number"
    assert by_id["n2"][1]["error"] == "leverage: Infinity is not a finite number"
    anonymous = [reply for topic, reply in replies if topic == "mb-test/reply/anonymous"]
    assert len(anonymous) == 7  # no id, 4 hostile ids, 1 KB of "[", not JSON
    assert all(not reply["ok"] for reply in anonymous)
    assert not by_id["r1"][1]["ok"]
    assert "close it first" in by_id["r1"][1]["error"]
    state = by_id["r2"][1]["state"]["iso"]["positions"][0]
    assert (state["side"], state["qty"], state["margin_mode"]) == ("long", "0.1", "isolated")
    assert by_id["r3"][1]["error"].startswith("cmd: invalid value 'fly'")


async def test_mqtt_commands_are_off_unless_configured(tmp_path, mosquitto) -> None:
    async with Simulator(
        ScenarioSource(load_scenario(ROOT / "config/scenarios/crash.toml"))
    ) as sim:
        path = write_config(tmp_path, sim.base_url("ws"), mosquitto)
        path.write_text(path.read_text().replace("commands = true\n", ""))
        daemon = Daemon(load_config(path), None, io.StringIO())
        running = asyncio.create_task(daemon.run())
        await wait_for_price(daemon)
        assert daemon.command_task is None
        daemon.stop.set()
        await running
        # Asked for without any secret: refused at start, in words.
        path.write_text(
            path.read_text().replace('prefix = "mb-test"', 'prefix = "mb-test"\ncommands = true')
        )
        with pytest.raises(ConfigError, match="no account has a command secret"):
            Daemon(load_config(path), None, io.StringIO())


def test_cli_without_a_daemon_says_how_to_start_one(tmp_path) -> None:
    result = subprocess.run(
        [MARGINBOT, "position", "show", "--socket", str(tmp_path / "x.sock")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "start one with `marginbot run --config FILE`" in result.stderr


@pytest.mark.parametrize("qty", ["x", "Infinity", "NaN", "sNaN"])
def test_cli_bad_numbers_exit_2(tmp_path, qty: str) -> None:
    args = ["order", "place", "--account", "iso", "--symbol", "BTCUSDT", "--side", "buy"]
    result = subprocess.run(
        [MARGINBOT, *args, "--qty", qty, "--socket", str(tmp_path / "x.sock")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{qty!r} is not a" in result.stderr


def test_the_documented_openssl_signature_is_the_daemons(tmp_path) -> None:
    """docs/commands.md signs with openssl and Python: the gate accepts what that makes."""
    from bot.control.signing import CommandGate

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed here")
    docs = (ROOT / "docs/commands.md").read_text()
    script = docs.split("Without marginbot, with `openssl` and Python:\n\n```sh\n", 1)[1]
    script = script.split("```", 1)[0].replace("| mosquitto_pub -t marginbot/cmd -q 1 -s", "")
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "MARGINBOT_ISOLATED_COMMAND_SECRET": SECRET},
        timeout=30,
        check=True,
    )
    gate = CommandGate({"isolated": SECRET})
    opened = gate.open(result.stdout.strip().encode(), int(time.time() * 1000))
    assert orjson.loads(opened) == {"id": "r2", "cmd": "query", "account": "isolated"}


def test_marginbot_sign_makes_what_the_daemon_opens() -> None:
    from bot.control.signing import CommandGate

    command = '{"id":"s1","cmd":"query","account":"iso"}'
    result = subprocess.run(
        [MARGINBOT, "sign", command],
        capture_output=True,
        text=True,
        env={**os.environ, "MARGINBOT_ISO_COMMAND_SECRET": SECRET},
        timeout=60,
        check=True,
    )
    gate = CommandGate({"iso": SECRET})
    assert gate.open(result.stdout.strip().encode(), int(time.time() * 1000)) == command.encode()
    refused = subprocess.run(
        [MARGINBOT, "sign", '{"id":"s2","cmd":"set_leverage","account":"iso","leverage":"NaN"}'],
        capture_output=True,
        text=True,
        env={**os.environ, "MARGINBOT_ISO_COMMAND_SECRET": SECRET},
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "leverage: NaN is not a finite number" in refused.stderr
