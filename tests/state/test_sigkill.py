"""Kill the daemon with SIGKILL at random moments, many times, during a replayed session with
two strategies trading; after each restart it recovers, and at the end its ledger equals, to
the cent, an uninterrupted run over the same journaled inputs.

Also: whatever the daemon published (its events-out lines) came from journaled inputs.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.config import accounts_digest, load_config
from bot.control.handler import state_json
from bot.core.engine_events import OrderFilled
from bot.core.kernel import Kernel
from bot.daemon import build_engine
from bot.session.events_out import event_line
from bot.state.store import StateStore
from tests.conftest import MARGINBOT, ROOT, read_until, sim_process

SESSION = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
KILLS = 10


def config_text(tmp_path: Path, base: str) -> str:
    breakout = ROOT / "examples/breakout.py"
    return (
        f'[sim]\nbase_url = "{base}"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "isolated"\nleverage = "10"\n'
        '[[accounts]]\nname = "crs"\nvenue = "binance"\nwallet_balance = "2000"\n'
        'margin_mode = "cross"\nleverage = "20"\n'
        f'[[strategies]]\nfile = "{breakout}"\nclass = "Breakout"\naccount = "iso"\n'
        'params = { lookback = 5, qty = "0.05", stop_pct = "0.0004", take_pct = "0.0004" }\n'
        f'[[strategies]]\nfile = "{breakout}"\nclass = "Breakout"\naccount = "crs"\n'
        'params = { lookback = 8, qty = "0.1", stop_pct = "0.0006", take_pct = "0.0003" }\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\nsnapshot_interval_s = 0.4\n'
        "keep_journal = true\n"
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nenabled = false\n"
        f'[logging]\nfile = "{tmp_path / "marginbot.jsonl"}"\n'
    )


def complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return data.split(b"\n")[:-1]  # a killed process may leave half a line at the end


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    sim, http = sim_process("--speed", "20", "--session", str(SESSION))
    try:
        base = http.replace("http://", "ws://")
        path = tmp_path / "daemon.toml"
        path.write_text(config_text(tmp_path, base))
        recoveries: list[str] = []
        for run in range(KILLS + 1):
            daemon = subprocess.Popen(
                [MARGINBOT, "run", "--config", str(path), "--events-out", f"{tmp_path}/ev{run}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                lines = read_until(daemon, " ready: ", 30)
                recoveries += [line for line in lines if line.startswith("state: ")]
                time.sleep(rng.uniform(0.2, 2.0))
                if run < KILLS:
                    daemon.send_signal(signal.SIGKILL)
                    daemon.wait(10)
                else:
                    daemon.send_signal(signal.SIGTERM)
                    read_until(daemon, "marginbot stopped", 20)
                    assert daemon.wait(20) == 0
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
    finally:
        sim.terminate()
        sim.wait(10)

    config = load_config(path)
    store = StateStore(tmp_path / "state", accounts_digest(config))
    recovered = store.recover(lambda: build_engine(config))
    assert recovered.replayed == 0  # the graceful stop left a snapshot of the very end

    uninterrupted = build_engine(config)
    published: set[bytes] = set()
    fills = 0
    for _, item in store.records():
        for event in uninterrupted.step(item):
            published.add(event_line(event).rstrip(b"\n"))
            fills += isinstance(event, OrderFilled)
    store.close()
    assert state_json(Kernel(recovered.engine), None) == state_json(Kernel(uninterrupted), None)

    # Something happened worth recovering: fills, and recoveries from snapshots mid-session.
    assert fills >= 4, fills
    from_snapshot = [r for r in recoveries if "snapshot at input" in r]
    assert len(recoveries) == KILLS + 1, recoveries
    assert len(from_snapshot) >= KILLS // 2, recoveries
    times = [int(m) for r in recoveries for m in re.findall(r"in (\d+) ms", r)]
    sys.stderr.write(f"recoveries: {len(times)}, max {max(times)} ms; fills {fills}\n")

    # Every event a killed daemon wrote out came from an input it had journaled first.
    written = [
        line
        for run in range(KILLS + 1)
        for line in complete_lines(tmp_path / f"ev{run}")
        if not line.startswith(b'{"type":"alert"')  # alerts: checked in tests/session
    ]
    assert written
    assert not [line for line in written if line not in published]
