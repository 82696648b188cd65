"""The daemon's life as a process: refused configurations, a bounded graceful stop that flushes
the recorder, the outbox and a snapshot, and a second signal that stops it at once."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from bot.alerts.broker import free_port
from bot.config import accounts_digest, load_config
from bot.daemon import build_engine
from bot.session.io import SessionReader
from bot.state.store import StateStore
from tests.conftest import MARGINBOT, ROOT, read_until, sim_process

GOOD = (
    '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
    '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "1000"\n'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "[mqtt]\nprot = 1\n", "mqtt: object contains unknown field `prot`"),
        (GOOD + '[state]\nsnapshot_interval_s = "often"\n', "state.snapshot_interval_s"),
        (GOOD + "[state]\nsnapshot_interval_s = 0\n", "state.snapshot_interval_s"),
        (GOOD + '[logging]\nlevel = "loud"\n', "logging.level"),
        (GOOD.replace('"1000"', '"-5"'), "wallet_balance must be ≥ 0"),
        (GOOD + '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "1"\n',
         "give each account a unique, non-empty name"),
        (GOOD.replace('venue = "binance"\nwallet', 'venue = "bybit"\nwallet'),
         "no feed reads bybit"),
        (GOOD + '[[accounts]]\nname = "t"\nvenue = "binance"\nwallet_balance = "1"\n'
         'execution = "testnet"\n', "has no credentials: set MARGINBOT_T_API_KEY"),
    ],
)  # fmt: skip
def test_config_check_and_run_refuse_a_bad_config(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        text + f'[state]\ndirectory = "{tmp_path / "state"}"\n' * ("[state]" not in text)
    )
    checked = subprocess.run(
        [MARGINBOT, "config", "check", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 2
    assert message in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1  # one line, no traceback
    if "credentials" in message:
        return  # checked by `config check`; `run` refuses it when it builds the mirror
    ran = subprocess.run(
        [MARGINBOT, "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert ran.returncode == 2
    assert message in ran.stderr
    assert "ready" not in ran.stdout


def test_config_check_describes_a_good_config() -> None:
    checked = subprocess.run(
        [MARGINBOT, "config", "check", str(ROOT / "config/paper.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "account   isolated: binance isolated 2000 at 10x, paper" in checked.stdout
    assert "state     logs/state" in checked.stdout


def start(tmp_path: Path) -> tuple[subprocess.Popen[str], subprocess.Popen[str], Path]:
    sim, http = sim_process("--speed", "4", "--scenario", str(ROOT / "config/scenarios/crash.toml"))
    base = http.replace("http://", "ws://")
    path = tmp_path / "daemon.toml"
    path.write_text(
        f'[sim]\nbase_url = "{base}"\n{GOOD}'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
        f"[mqtt]\nport = {free_port()}\n"  # no broker: alerts wait in the outbox
        f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        f'[logging]\nfile = "{tmp_path / "marginbot.jsonl"}"\n[metrics]\nport = 0\n'
    )
    daemon = subprocess.Popen(
        [MARGINBOT, "run", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    read_until(daemon, " ready: ", 30)
    return sim, daemon, path


def test_graceful_stop_is_bounded_and_flushes_everything(tmp_path: Path) -> None:
    sim, daemon, path = start(tmp_path)
    try:
        time.sleep(1.5)
        subprocess.run(
            [MARGINBOT, "order", "place", "--config", str(path), "--account", "a",
             "--symbol", "BTCUSDT", "--side", "buy", "--qty", "0.01"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        asked = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        lines = read_until(daemon, "marginbot stopped in", 15)
        assert daemon.wait(15) == 0
        took = time.monotonic() - asked
    finally:
        for process in (daemon, sim):
            if process.poll() is None:
                process.kill()
            process.wait()
    assert took < 10, took  # alerts get 3 s, tasks 5 s; here no broker, so almost nothing
    text = "".join(lines)
    assert "alerts stay in" in text  # the outbox kept what the broker never took
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        kinds = [row[0].rsplit("/", 1)[-1] for row in db.execute("SELECT topic FROM outbox")]
    assert "daemon_stopping" in kinds
    [session] = (tmp_path / "sessions").glob("*.jsonl.gz")
    reader = SessionReader(session)
    records = list(reader.records())
    assert reader.truncated_tail == 0  # the recorder was closed, not cut off
    assert any(r.get("t") == "command" for r in records)
    config = load_config(path)
    store = StateStore(tmp_path / "state", accounts_digest(config))
    recovery = store.recover(lambda: build_engine(config))
    store.close()
    assert recovery.replayed == 0  # the stop wrote a snapshot of the very end
    assert recovery.engine.desks["a"].account.position("BTCUSDT") is not None


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    sim, daemon, _ = start(tmp_path)
    try:
        daemon.send_signal(signal.SIGINT)
        daemon.send_signal(signal.SIGINT)
        code = daemon.wait(5)
    finally:
        for process in (daemon, sim):
            if process.poll() is None:
                process.kill()
            process.wait()
    assert code in (0, 130)  # 130 when the second signal came while it was stopping


def test_a_second_daemon_on_the_same_socket_or_state_is_refused(tmp_path: Path) -> None:
    sim, daemon, path = start(tmp_path)
    try:
        same_state = subprocess.run(
            [MARGINBOT, "run", "--config", str(path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        other = tmp_path / "other.toml"
        other.write_text(
            path.read_text().replace(f'"{tmp_path / "state"}"', f'"{tmp_path / "state2"}"')
        )
        same_socket = subprocess.run(
            [MARGINBOT, "run", "--config", str(other)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert daemon.poll() is None  # the first one runs on, untouched
    finally:
        for process in (daemon, sim):
            process.kill()
            process.wait()
    assert same_state.returncode == 2
    assert "is in use by another running marginbot" in same_state.stderr
    assert same_socket.returncode == 2
    assert "another marginbot answers on" in same_socket.stderr


async def test_a_cancelled_daemon_leaves_no_task_behind(tmp_path: Path) -> None:
    """An embedding program that cancels `Daemon.run` (as a test's loop does on failure) gets
    every feed, reconnect loop and timer back: nothing keeps running."""
    import asyncio
    import io

    from bot.config import load_config
    from bot.daemon import Daemon

    path = tmp_path / "d.toml"
    path.write_text(
        '[sim]\nbase_url = "ws://127.0.0.1:9"\n'  # nothing answers: the feeds keep retrying
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "100"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nenabled = false\n"
    )
    before = asyncio.all_tasks()
    daemon = Daemon(load_config(path), path, io.StringIO())
    running = asyncio.create_task(daemon.run())
    await asyncio.sleep(1.0)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.3)
    left = [t.get_name() for t in asyncio.all_tasks() - before if not t.done()]
    assert left == []


def _marginbot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MARGINBOT, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


@pytest.mark.parametrize(
    ("file", "words"),
    [
        ("config/story.toml", "is a story file, not a daemon configuration: run it with"),
        ("config/scenarios/crash.toml", "is a simulator scenario, not a daemon configuration"),
    ],
)
def test_config_check_says_what_another_kind_of_file_is(file: str, words: str) -> None:
    checked = _marginbot("config", "check", str(ROOT / file))
    assert checked.returncode == 2
    assert words in checked.stderr
    assert "unknown field" not in checked.stderr


def test_config_check_offline_checks_a_testnet_config_without_credentials() -> None:
    example = str(ROOT / "config/example-binance-testnet.toml")
    without = _marginbot("config", "check", example)
    assert without.returncode == 2
    assert "`config check --offline` checks the file alone" in without.stderr
    offline = _marginbot("config", "check", "--offline", example)
    assert offline.returncode == 0, offline.stderr
    assert "binance-demo: binance isolated 5000 at 10x, testnet" in offline.stdout


def test_run_fresh_keeps_the_old_state_aside(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text(
        '[sim]\nbase_url = "ws://127.0.0.1:9"\n'
        '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
        '[[accounts]]\nname = "a"\nvenue = "binance"\nwallet_balance = "100"\n'
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n[metrics]\nenabled = false\n"
        f'[logging]\nfile = "{tmp_path / "log.jsonl"}"\n'
    )
    first = _marginbot("run", "--config", str(path), "--duration", "0.5")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "state" / "accounts").exists()
    fresh = _marginbot("run", "--config", str(path), "--duration", "0.5", "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("state.")]
    assert "fresh start: the previous state is kept in" in fresh.stdout
    assert (aside / "accounts").exists()  # nothing deleted
    assert "state: new in" in fresh.stdout


def test_replay_summary_reads_as_times_and_counts_that_add_up() -> None:
    summary = _marginbot(
        "replay", str(ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz")
    )
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    assert lines[0].endswith("73,766 records (73,764 frames received, 1 connect, 1 REST answer)")
    assert lines[1] == "  2023-04-04 23:58:20.423 UTC to 2023-04-05 00:06:54.683 UTC (8 min 34.3 s)"
    assert "  57,654 events (market data, and the engine's):" in lines
    assert "frames with nothing marginbot reads: 16,110 binance:event:depthUpdate" in summary.stdout
    assert summary.stdout.rstrip().endswith("at 2023-04-05 00:01:08.567 UTC")


def test_one_way_refusals_speak_of_the_position_not_of_a_slot() -> None:
    from decimal import Decimal

    from bot.core.commands import AdjustIsolatedMargin, ClosePosition
    from bot.core.engine import Engine
    from tests.conftest import make_account

    engine = Engine({"a": make_account("1000")})
    [refused] = engine.step(ClosePosition("a", "BTCUSDT", 1))
    assert refused.reason == "no position open on BTCUSDT; open one first"
    [adjust] = engine.step(AdjustIsolatedMargin("a", "BTCUSDT", Decimal(10), 2))
    assert adjust.reason.startswith("no position on BTCUSDT; open one before")


def test_every_option_is_described_with_its_default() -> None:
    """`--help` leaves nothing undescribed: every option and argument has a help text, and
    one with a default says it."""
    import argparse

    from bot.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, path: list[str]):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*path, name])
            elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
                yield " ".join(path), action

    undescribed = []
    for path, action in walk(build_parser(), []):
        name = action.option_strings[0] if action.option_strings else action.dest
        has_default = (
            action.option_strings
            and action.default not in (None, False)
            and not isinstance(action, argparse._StoreTrueAction)
        )
        if not action.help or (has_default and "default" not in action.help):
            undescribed.append(f"{path} {name}")
    assert undescribed == []
