"""The strategy hook: the worked example, and a daemon running it whose session replays."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from bot.config import load_config
from bot.core.kernel import Kernel
from bot.daemon import Daemon, build_engine, build_kernel
from bot.errors import ConfigError
from bot.session.replay import replay
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.strategy import load_strategy
from tests.conftest import ROOT

RISE_THEN_FALL = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "mark": [
            {"at": 0, "price": "10000"},
            {"at": 2, "price": "10000"},
            {"at": 4, "price": "10100"},
            {"at": 8, "price": "9900"},
        ],
        "last": [
            {"at": 0, "price": "10000"},
            {"at": 2, "price": "10000"},
            {"at": 4, "price": "10100"},
            {"at": 8, "price": "9950"},
        ],
    },
    "rise-then-fall",
)


def test_example_strategy_loads_and_rejects_bad_params() -> None:
    strategy = load_strategy(
        str(ROOT / "examples/breakout.py"), None, "Breakout", {"account": "a", "lookback": 3}
    )
    assert callable(strategy.on_event)
    with pytest.raises(ConfigError, match="bad params"):
        load_strategy(str(ROOT / "examples/breakout.py"), None, "Breakout", {"nope": 1})
    with pytest.raises(ConfigError, match="has no attribute 'Missing'"):
        load_strategy(str(ROOT / "examples/breakout.py"), None, "Missing", {})


async def test_daemon_runs_the_strategy_and_the_session_replays_without_it(tmp_path: Path) -> None:
    async with Simulator(ScenarioSource(RISE_THEN_FALL, venues=("binance",))) as sim:
        path = tmp_path / "strategy.toml"
        path.write_text(
            f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            '[[accounts]]\nname = "bot"\nvenue = "binance"\nwallet_balance = "2000"\n'
            'margin_mode = "isolated"\nleverage = "10"\n'
            f'[[strategies]]\nfile = "{ROOT / "examples/breakout.py"}"\nclass = "Breakout"\n'
            'account = "bot"\nparams = { lookback = 20, qty = "0.05", stop_pct = "0.005" }\n'
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
            f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        )
        config = load_config(path)
        live = io.BytesIO()
        daemon = Daemon(config, path, io.StringIO(), events_out=live)
        running = asyncio.create_task(daemon.run())
        await sim.finished.wait()
        daemon.stop.set()
        await running
    events = [orjson.loads(line) for line in live.getvalue().splitlines()]
    roles = [(e["type"], e.get("role")) for e in events]
    assert ("order_filled", "order") in roles  # the breakout entry
    assert ("order_filled", "stop_loss") in roles  # the mark-triggered stop on the way down
    [entry] = [e for e in events if e["type"] == "order_filled" and e["role"] == "order"]
    stop = next(e for e in events if e["type"] == "order_triggered")
    expected_stop = (Decimal(entry["fill"]["entry_price"]) * Decimal("0.995")).quantize(
        Decimal("0.1")
    )
    assert Decimal(stop["trigger_price"]) == expected_stop
    assert daemon.strategy_errors == 0
    # A replay with the configuration runs the strategy as the daemon did (skipping the
    # commands it recorded): the same events and the same alerts, with the same ids.
    [session] = list((tmp_path / "sessions").glob("*.jsonl.gz"))
    replayed = io.BytesIO()
    summary = replay(session, events_out=replayed, kernel=build_kernel(config))
    assert (summary.commands, summary.strategy_commands) == (0, 2)
    assert _not_market(replayed) == live.getvalue().splitlines()
    assert any(orjson.loads(line)["type"] == "alert" for line in _not_market(replayed))
    # Without strategies, the recorded commands are applied as a trader's: the same trades.
    plain = io.BytesIO()
    summary = replay(session, events_out=plain, kernel=Kernel(build_engine(config)))
    assert (summary.commands, summary.strategy_commands) == (2, 0)
    engine_lines = [line for line in _not_market(plain) if b'"type":"alert"' not in line]
    assert engine_lines == [
        line for line in live.getvalue().splitlines() if b'"type":"alert"' not in line
    ]


def _not_market(out: io.BytesIO) -> list[bytes]:
    return [
        line
        for line in out.getvalue().splitlines()
        if orjson.loads(line)["type"] not in {"mark_price", "trade", "book_top"}
    ]
