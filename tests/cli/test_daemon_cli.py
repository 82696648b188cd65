"""The issue's user flow, as processes: simulator, daemon, and the CLI talking to the daemon.

Open a 10x isolated long with a stop-loss on mark and a take-profit on last, watch the ledger,
and see the stop fire in a scripted crash while the last price still lags above it.
"""

from __future__ import annotations

import subprocess
import time
from decimal import Decimal
from pathlib import Path

from tests.conftest import MARGINBOT, ROOT, read_until


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MARGINBOT, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_open_with_bracket_from_the_cli_and_watch_the_stop_fire(tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [
            MARGINBOT,
            "sim",
            "--port",
            "0",
            "--speed",
            "4",
            "--scenario",
            str(ROOT / "config/scenarios/crash.toml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    daemon = None
    try:
        base = read_until(sim, "simulator on", 10)[-1].split()[-1].replace("http://", "ws://")
        config = tmp_path / "paper.toml"
        config.write_text(
            (ROOT / "config/paper.toml")
            .read_text()
            .replace('base_url = "ws://127.0.0.1:8765"', f'base_url = "{base}"')
            .replace('socket = "logs/marginbot.sock"', f'socket = "{tmp_path / "mb.sock"}"')
            .replace("[mqtt]\nenabled = true", "[mqtt]\nenabled = false")
            .replace('directory = "logs/sessions"', f'directory = "{tmp_path / "sessions"}"')
            .replace('directory = "logs/state"', f'directory = "{tmp_path / "state"}"')
            + f'\n[logging]\nfile = "{tmp_path / "marginbot.jsonl"}"\n[metrics]\nport = 0\n'
        )
        daemon = subprocess.Popen(
            [MARGINBOT, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        read_until(daemon, "ready: accounts isolated", 15)
        time.sleep(0.5)  # the first prices arrive
        opened = cli(
            "position",
            "open",
            "--config",
            str(config),
            "--account",
            "isolated",
            "--symbol",
            "BTCUSDT",
            "--side",
            "long",
            "--qty",
            "0.2",
            "--leverage",
            "10",
            "--margin-mode",
            "isolated",
            "--stop-loss",
            "9200",
            "--sl-source",
            "mark",
            "--take-profit",
            "10500",
            "--tp-source",
            "last",
        )
        assert opened.returncode == 0, opened.stdout + opened.stderr
        [fill] = [line for line in opened.stdout.splitlines() if "filled isolated-1" in line]
        entry = Decimal(fill.split(" at ")[1].split(", fee")[0].replace(",", ""))
        shown = cli("position", "show", "--config", str(config), "--account", "isolated")
        # Isolated 10x, MMR 0.4 %: LP = entry × (1 − 1/10) / (1 − 0.004)
        expected = entry * Decimal("0.9") / Decimal("0.996")
        assert f"liq {expected:,.2f}" in shown.stdout  # as `status` shows it
        assert (
            "stop_market sell close position BTCUSDT (stop_loss, untriggered) trigger 9200 "
            "on mark" in shown.stdout
        )
        refused = cli(
            "position",
            "margin-mode",
            "--config",
            str(config),
            "--account",
            "isolated",
            "--symbol",
            "BTCUSDT",
            "cross",
        )
        assert refused.returncode == 1
        assert refused.stdout.count("close it first") == 1  # each refusal once, in words
        assert "{'" not in opened.stdout + refused.stdout  # no Python reprs
        # 10x and isolated are the account's settings already: an open does not announce them.
        assert "leverage" not in opened.stdout
        assert "margin mode" not in opened.stdout
        too_big = cli(
            "position", "open", "--config", str(config), "--account", "cross",
            "--symbol", "BTCUSDT", "--side", "long", "--qty", "1000", "--leverage", "10",
        )  # fmt: skip
        assert too_big.returncode == 1
        [said] = too_big.stdout.splitlines()  # the refusal, once, and no setting "changed"
        assert said.startswith("refused: ")
        again = cli(
            "position", "leverage", "--config", str(config), "--account", "cross",
            "--symbol", "BTCUSDT", "10",
        )  # fmt: skip
        assert again.stdout.strip() == "leverage of BTCUSDT is already 10x"
        changed = cli(
            "position", "leverage", "--config", str(config), "--account", "cross",
            "--symbol", "BTCUSDT", "5",
        )  # fmt: skip
        assert changed.stdout.strip() == "leverage of BTCUSDT set to 5x"
        lines = read_until(daemon, "stop_loss triggered: mark", 60)
        fill = read_until(daemon, "filled stop_loss", 5)[-1]
        price = float(fill.split(" at ")[1].split()[0])
        assert price > 9200  # filled at the lagging last/book, above the mark that triggered it
        assert not any("LIQUIDATED" in line for line in lines)
    finally:
        if daemon is not None:
            daemon.terminate()
            tail = daemon.communicate(timeout=15)[0]
            assert "marginbot stopped" in tail
        sim.terminate()
        sim.wait(10)
    assert list((tmp_path / "sessions").glob("session-*.jsonl.gz"))
