"""`marginbot doctor` against the simulator: what works, what does not in the venue's words,
and a recording that replays."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bot.cli.doctor import check_stream, run_doctor
from bot.config import load_config
from bot.session.replay import replay
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.venues.spec import FeedRoute

FLAT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "hold_s": 60,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)


def _config(tmp_path: Path, sim: Simulator, secret: str) -> Path:
    path = tmp_path / "doctor.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[feeds]]\nvenue = "bybit"\nnetwork = "sim"\nsymbols = ["BTCUSDT", "NOPEUSDT"]\n'
        '[[accounts]]\nname = "bin"\nvenue = "binance"\nwallet_balance = "1000"\n'
        f'execution = "testnet"\nexchange_url = "{sim.base_url()}"\n'
        '[[accounts]]\nname = "byb"\nvenue = "bybit"\nwallet_balance = "1000"\n'
        f'execution = "testnet"\nexchange_url = "{sim.base_url()}"\n'
    )
    return path


async def test_doctor_reports_each_endpoint_and_records_a_replayable_session(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MARGINBOT_BIN_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_BIN_API_SECRET", "sim-secret")
    monkeypatch.setenv("MARGINBOT_BYB_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_BYB_API_SECRET", "a-wrong-secret-0042")
    async with Simulator(ScenarioSource(FLAT)) as sim:
        path = _config(tmp_path, sim, "sim-secret")
        out = io.StringIO()
        code = await run_doctor(load_config(path), path, 1.0, tmp_path / "rec", out)
    report = out.getvalue()
    lines = {
        f"{m.group(1)} {m.group(2)}": m.group(0)
        for m in re.finditer(r"^  (?:ok  |FAIL) (\S+)\s+(\S.*?)\s{2,}.*$", report, re.MULTILINE)
    }
    assert code == 1  # some checks fail, and say why
    assert lines["binance stream binance.public"].startswith("  ok")
    assert "trade" in lines["binance stream binance.public"]
    assert "mark_price" in lines["binance stream binance.market"]
    assert lines["binance private: balance"].startswith("  ok")
    assert lines["binance private: positions"].startswith("  ok")
    assert lines["bybit stream bybit"].startswith("  ok")
    assert "not listed: NOPEUSDT" in lines["bybit instruments"]
    # A wrong secret: the venue's own code and words come through.
    assert "FAIL" in lines["bybit private: balance"]
    assert "10004" in lines["bybit private: balance"]
    assert "a-wrong-secret-0042" not in report
    [session] = (tmp_path / "rec").glob("session-*.jsonl.gz")
    assert b"a-wrong-secret-0042" not in session.read_bytes()
    assert b"sim-secret" not in session.read_bytes()
    summary = replay(session)
    assert summary.parse_errors == {}
    assert summary.events["mark_price"] > 0
    assert summary.events["trade"] > 0


async def test_doctor_says_when_an_endpoint_connects_but_sends_nothing() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        retired = FeedRoute(
            "binance",
            "market",
            f"{sim.base_url('ws')}/stream?streams=btcusdt@markPrice@1s",
            ("btcusdt@markPrice@1s",),
        )
        check = await check_stream(retired, 1.0, None)
        closed = FeedRoute("binance", "market", "ws://127.0.0.1:9/market/stream", ("x",))
        refused = await check_stream(closed, 1.0, None)
    assert not check.ok
    assert "connected, but no market data in 1 s" in check.detail
    assert not refused.ok
    assert "cannot connect" in refused.detail
