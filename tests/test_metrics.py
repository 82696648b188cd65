"""/metrics serves the daemon's figures; /healthz turns unhealthy when the simulator stalls."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import aiohttp
import orjson

from bot.config import load_config
from bot.control.socket_server import send
from bot.daemon import Daemon
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from tests.conftest import MARGINBOT

SHORT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "mark": [{"at": 0, "price": "10000"}, {"at": 2, "price": "9900"}],
        "last": [{"at": 0, "price": "10000"}, {"at": 2, "price": "9890"}],
    },
    "short",
)
LISTED = [
    'marginbot_events_total{kind="mark_price",venue="binance"}',
    'marginbot_events_total{kind="trade",venue="binance"}',
    'marginbot_feed_frames_total{stream="binance.market",venue="binance"}',
    'marginbot_feed_frames_total{stream="binance.public",venue="binance"}',
    'marginbot_feed_reconnects_total{stream="binance.market",venue="binance"}',
    'marginbot_feed_lag_seconds{stream="binance.market",venue="binance"}',
    'marginbot_feed_up{stream="binance.market",venue="binance"} 1.0',
    'marginbot_feed_up{stream="binance.public",venue="binance"} 1.0',
    'marginbot_alerts_raised_total{kind="daemon_started"} 1.0',
    'marginbot_account_equity{account="iso"}',
    'marginbot_account_margin_ratio{account="iso"}',
    'marginbot_account_liquidation_distance{account="iso"}',
    'marginbot_account_positions{account="iso"} 1.0',
    "marginbot_journal_inputs_total",
    "marginbot_outbox_depth",
]


async def test_metrics_and_health(tmp_path: Path) -> None:
    async with Simulator(ScenarioSource(SHORT, venues=("binance",))) as sim:
        path = tmp_path / "metrics.toml"
        path.write_text(
            f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            "stale_after_s = 1\n"
            '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
            'margin_mode = "isolated"\nleverage = "10"\n'
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
            "[mqtt]\nport = 1\n"  # nothing listens there: alerts queue in the outbox
            f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
            "[recording]\nenabled = false\n[metrics]\nport = 0\n"
        )
        daemon = Daemon(load_config(path), path, io.StringIO())
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").mark is None:
            await asyncio.sleep(0.02)
        order = {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT"}
        reply = await send(
            tmp_path / "mb.sock", {**order, "side": "buy", "type": "market", "qty": "0.1"}
        )
        assert reply["ok"], reply
        assert daemon.metrics_url is not None
        for flag in ("--json", None):
            status = await asyncio.create_subprocess_exec(
                MARGINBOT, "status", "--socket", str(tmp_path / "mb.sock"),
                *([flag] if flag else []), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            output, _ = await status.communicate()
            assert status.returncode == 0
            if flag:
                document = orjson.loads(output)
                feeds = document["daemon"]["feeds"]
                assert [f["stream"] for f in feeds] == ["binance.public", "binance.market"]
                assert all(f["healthy"] for f in feeds)
                assert document["daemon"]["prices"]["binance:BTCUSDT"]["mark"]
                [position] = document["accounts"]["iso"]["positions"]
                assert position["qty"] == "0.1"
                assert position["liquidation_price"]
            else:
                text = output.decode()
                for title in ("Feeds", "Prices", "Accounts", "Positions", "long 0.1 BTCUSDT"):
                    assert title in text
        async with aiohttp.ClientSession() as http:
            async with http.get(daemon.metrics_url + "/healthz") as answer:
                assert answer.status == 200
                assert await answer.text() == "ok\n"
            async with http.get(daemon.metrics_url + "/metrics") as answer:
                assert answer.status == 200
                text = await answer.text()
            missing = [name for name in LISTED if name not in text]
            assert not missing, text
            await sim.finished.wait()  # the source ends: the feed falls silent
            await asyncio.sleep(1.3)
            async with http.get(daemon.metrics_url + "/healthz") as answer:
                assert answer.status == 503
                # How long exactly depends on the machine's pace: the reason, not the second.
                assert re.search(
                    r"binance.market: no market data for \d+ s \(stale\)", await answer.text()
                )
            async with http.get(daemon.metrics_url + "/metrics") as answer:
                stale = 'marginbot_feed_up{stream="binance.market",venue="binance"} 0.0'
                assert stale in await answer.text()
        daemon.stop.set()
        await running
