"""The daemon with real components: simulator feed, control socket, MQTT through Mosquitto,
and the recorded session replaying to the same fills, byte for byte."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import aiomqtt
import orjson
import pytest

from bot.config import load_config
from bot.control.socket_server import send
from bot.daemon import Daemon, build_engine
from bot.session.replay import replay
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import ROOT

MARGINBOT = str(Path(sys.executable).with_name("marginbot"))


def write_config(tmp_path: Path, sim_base: str, mqtt_port: int | None) -> Path:
    mqtt = (
        f'[mqtt]\nport = {mqtt_port}\nprefix = "mb-test"\n'
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
    # Replaying the recorded session gives the same engine events, byte for byte.
    [session] = list((tmp_path / "sessions").glob("*.jsonl.gz"))
    replayed = io.BytesIO()
    replay(session, events_out=replayed, engine=build_engine(config))
    engine_lines = [
        line
        for line in replayed.getvalue().splitlines()
        if orjson.loads(line)["type"].split("_")[0]
        in {"order", "position", "funding", "setting", "command"}
    ]
    assert engine_lines == live.getvalue().splitlines()


async def test_commands_over_mqtt_through_a_real_broker(tmp_path, mosquitto) -> None:
    crash = load_scenario(ROOT / "config/scenarios/crash.toml")
    async with Simulator(ScenarioSource(crash, venues=("binance",))) as sim:
        config = load_config(write_config(tmp_path, sim.base_url("ws"), mosquitto))
        daemon = Daemon(config, None, io.StringIO())
        running = asyncio.create_task(daemon.run())
        await wait_for_price(daemon)
        async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="trader") as client:
            await client.subscribe("mb-test/reply/#", qos=1)
            await asyncio.sleep(0.3)  # the daemon's command subscription is up
            for number, request in enumerate(
                (
                    {
                        "cmd": "place_order",
                        "account": "iso",
                        "symbol": "BTCUSDT",
                        "side": "buy",
                        "type": "market",
                        "qty": "0.1",
                    },
                    {
                        "cmd": "set_margin_mode",
                        "account": "iso",
                        "symbol": "BTCUSDT",
                        "margin_mode": "cross",
                    },
                    {"cmd": "query", "account": "iso"},
                    {"cmd": "fly", "account": "iso"},
                )
            ):
                await client.publish(
                    "mb-test/cmd", orjson.dumps({"id": f"r{number}", **request}), qos=1
                )
            replies = {}
            async with asyncio.timeout(10):
                async for message in client.messages:
                    reply = orjson.loads(message.payload)
                    replies[reply["id"]] = (str(message.topic), reply)
                    if len(replies) == 4:
                        break
        daemon.stop.set()
        await running
    assert replies["r0"][0] == "mb-test/reply/r0"
    assert replies["r0"][1]["ok"]
    assert [e["type"] for e in replies["r0"][1]["events"]] == ["order_accepted", "order_filled"]
    assert not replies["r1"][1]["ok"]
    assert "close it first" in replies["r1"][1]["error"]
    position = replies["r2"][1]["state"]["iso"]["positions"][0]
    assert (position["side"], position["qty"], position["margin_mode"]) == (
        "long",
        "0.1",
        "isolated",
    )
    assert replies["r3"][1]["error"].startswith("cmd: invalid value 'fly'")


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


@pytest.mark.parametrize(
    "args",
    [
        [
            "order",
            "place",
            "--account",
            "iso",
            "--symbol",
            "BTCUSDT",
            "--side",
            "buy",
            "--qty",
            "x",
        ],
    ],
)
def test_cli_bad_numbers_exit_2(tmp_path, args) -> None:
    result = subprocess.run(
        [MARGINBOT, *args, "--socket", str(tmp_path / "x.sock")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "'x' is not a number" in result.stderr
