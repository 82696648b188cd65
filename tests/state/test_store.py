"""The state store: journal + snapshots give back the exact engine, or say why they cannot."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from bot.config import accounts_digest, load_config
from bot.control.codec import decode
from bot.control.handler import state_json
from bot.core.engine import Engine, Input
from bot.core.kernel import Kernel
from bot.core.market import MarkPrice, Trade
from bot.core.values import OrderSide
from bot.daemon import build_engine
from bot.errors import ConfigError, StateError
from bot.state.store import StateStore
from tests.conftest import ROOT

CONFIG = load_config(ROOT / "config/paper.toml")
DIGEST = accounts_digest(CONFIG)


def fresh() -> Engine:
    return build_engine(CONFIG)


def session(count: int, seed: int = 7) -> list[Input]:
    """A random walk of marks and trades with orders, brackets and margin changes mixed in."""
    rng = random.Random(seed)
    price = Decimal(10_000)
    inputs: list[Input] = []
    commands = [
        {"cmd": "place_order", "account": "isolated", "symbol": "BTCUSDT", "side": "buy",
         "type": "market", "qty": "0.1"},
        {"cmd": "set_tp_sl", "account": "isolated", "symbol": "BTCUSDT",
         "stop_loss": "9700", "take_profit": "10300"},
        {"cmd": "place_order", "account": "cross", "symbol": "BTCUSDT", "side": "sell",
         "type": "market", "qty": "0.2"},
        {"cmd": "place_order", "account": "cross", "symbol": "BTCUSDT", "side": "buy",
         "type": "trailing_stop_market", "qty": "0.2", "callback_rate": "0.01",
         "reduce_only": True},
        {"cmd": "adjust_margin", "account": "isolated", "symbol": "BTCUSDT", "amount": "25"},
        {"cmd": "place_order", "account": "cross", "symbol": "BTCUSDT", "side": "buy",
         "type": "limit", "qty": "0.05", "price": "9900"},
    ]  # fmt: skip
    for n in range(count):
        price += Decimal(rng.randint(-40, 40))
        ts = 1_700_000_000_000_000_000 + n * 10**8
        if n % 2:
            inputs.append(MarkPrice("binance", "BTCUSDT", price, price, None, None, ts, ts))
        else:
            side = OrderSide.BUY if n % 4 else OrderSide.SELL
            inputs.append(Trade("binance", "BTCUSDT", price, Decimal("0.01"), side, str(n), ts, ts))
        if n % 25 == 3:
            inputs.append(decode(orjson.dumps(commands[(n // 25) % len(commands)])).command(ts))
    return inputs


def run(inputs: list[Input]) -> Engine:
    engine = fresh()
    for item in inputs:
        engine.step(item)
    return engine


def test_recovery_gives_back_the_engine_to_the_cent(tmp_path: Path) -> None:
    inputs = session(2_000)
    store = StateStore(tmp_path, DIGEST)
    engine = store.recover(fresh).engine
    for index, item in enumerate(inputs):
        store.append([item])
        engine.step(item)
        if index in (500, 1_200):
            store.snapshot(engine)
    store.close()  # as a killed process would leave it: no final snapshot
    again = StateStore(tmp_path, DIGEST)
    recovery = again.recover(fresh)
    assert recovery.snapshot_seq == 1_201  # the second snapshot, after input 1,201
    assert recovery.replayed == len(inputs) - recovery.snapshot_seq
    expected = state_json(Kernel(run(inputs)), None)
    assert state_json(Kernel(recovery.engine), None) == expected
    assert any(a["positions"] for a in expected.values())  # there was something to lose
    again.close()


def test_a_torn_last_record_is_cut_and_the_rest_recovered(tmp_path: Path) -> None:
    inputs = session(300)
    store = StateStore(tmp_path, DIGEST)
    store.recover(fresh)
    store.append(inputs)
    store.close()
    [segment] = sorted(tmp_path.glob("journal-*.log"))
    with segment.open("ab") as out:
        out.write(b"\x00\x00\x01\x00\xde\xad")  # the process died inside a write
    again = StateStore(tmp_path, DIGEST)
    recovery = again.recover(fresh)
    assert recovery.cut_bytes == 6
    assert recovery.replayed == len(inputs)
    assert state_json(Kernel(recovery.engine), None) == state_json(Kernel(run(inputs)), None)
    again.close()


def test_a_damaged_snapshot_falls_back_to_the_one_before(tmp_path: Path) -> None:
    inputs = session(600)
    store = StateStore(tmp_path, DIGEST)
    engine = store.recover(fresh).engine
    for index, item in enumerate(inputs):
        store.append([item])
        engine.step(item)
        if index in (200, 400):
            store.snapshot(engine)
    store.close()
    newest = max(tmp_path.glob("snapshot-*.bin"))
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0xFF
    newest.write_bytes(bytes(data))
    again = StateStore(tmp_path, DIGEST)
    recovery = again.recover(fresh)
    assert 0 < recovery.snapshot_seq < int(newest.stem.split("-")[1])
    assert state_json(Kernel(recovery.engine), None) == state_json(Kernel(run(inputs)), None)
    again.close()


def test_a_gap_in_the_journal_stops_the_recovery(tmp_path: Path) -> None:
    store = StateStore(tmp_path, DIGEST)
    store.recover(fresh)
    store.append(session(50))
    store.seq += 3  # three inputs never written
    store.append(session(10, seed=1))
    store.close()
    again = StateStore(tmp_path, DIGEST)
    with pytest.raises(StateError, match="jumps from input"):
        again.recover(fresh)
    again.close()


def test_old_journal_is_pruned_unless_kept(tmp_path: Path) -> None:
    for keep, directory in ((False, tmp_path / "pruned"), (True, tmp_path / "kept")):
        store = StateStore(directory, DIGEST, keep_journal=keep)
        engine = store.recover(fresh).engine
        for chunk in range(5):
            for item in session(100, seed=chunk):
                store.append([item])
                engine.step(item)
            store.snapshot(engine)
        store.close()
        assert len(list(directory.glob("snapshot-*.bin"))) == 2
        segments = len(list(directory.glob("journal-*.log")))
        assert segments == (6 if keep else 2)


def test_state_of_other_accounts_or_in_use_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path, DIGEST)
    with pytest.raises(ConfigError, match="in use by another running marginbot"):
        StateStore(tmp_path, DIGEST)
    store.close()
    with pytest.raises(ConfigError, match="other \\[\\[accounts\\]\\]"):
        StateStore(tmp_path, "sha256:something-else")


def test_a_state_written_before_the_core_moved_into_rooms_still_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Snapshots name classes by module: those of the flat core (bot.core.ledger, ...) are
    found where they live now."""
    import importlib
    import pickle
    import sys
    import types

    from bot.state.store import MOVED, _loads

    engine = run([])
    # Pickle as an older marginbot did: each moved class under its old module's name.
    for old, new in MOVED.items():
        module = importlib.import_module(new)
        shim = types.ModuleType(old)
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == new:
                setattr(shim, name, value)
                monkeypatch.setattr(value, "__module__", old)
        monkeypatch.setitem(sys.modules, old, shim)
    data = pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL)
    monkeypatch.undo()
    assert b"bot.core.positions" in data
    assert b"bot.core.ledger.positions" not in data
    loaded = _loads(data)
    assert state_json(Kernel(loaded), None) == state_json(Kernel(engine), None)
