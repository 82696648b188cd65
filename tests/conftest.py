"""Shared test helpers: instruments, accounts, and the recorded data in ../shared/data."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.alerts.broker import PrivateBroker
from bot.core.instruments import Instrument, TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.values import ZERO, AccountType, MarginMode, PositionMode, Venue
from bot.errors import MarginbotError

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MARGINBOT_SHARED_DATA", ROOT.parent / "shared" / "data"))
NO_FEES = FeeSchedule(ZERO, ZERO)


def shared_data(relative: str) -> Path:
    """A file from the shared recordings; missing data fails in CI and skips elsewhere."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data {path} is missing; CI must run beside shared/")
        pytest.skip(f"shared data {path} not present (clone next to shared/ to run this test)")
    return path


def instrument(
    symbol: str = "BTCUSDT",
    venue: Venue = Venue.BINANCE,
    tiers: TierTable | None = None,
    liquidation_fee_rate: Decimal = ZERO,
) -> Instrument:
    return Instrument(
        venue=venue,
        symbol=symbol,
        base=symbol.removesuffix("USDT"),
        quote="USDT",
        settle="USDT",
        tiers=tiers or TierTable.single(Decimal("0.004")),
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal(5),
        liquidation_fee_rate=liquidation_fee_rate,
    )


def make_account(
    wallet: str = "2000",
    *instruments: Instrument,
    venue: Venue = Venue.BINANCE,
    mode: PositionMode = PositionMode.ONE_WAY,
    fees: FeeSchedule = NO_FEES,
    margin_mode: MarginMode = MarginMode.CROSS,
    leverage: str = "10",
    account_type: AccountType | None = None,
) -> Account:
    chosen = instruments or (instrument(venue=venue),)
    return Account(
        venue,
        {i.symbol: i for i in chosen},
        Decimal(wallet),
        position_mode=mode,
        fees=fees,
        default_margin_mode=margin_mode,
        default_leverage=Decimal(leverage),
        account_type=account_type,
    )


# CI runs the same examples every time (a failure there is reproducible); a developer's run
# explores new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


class Broker(PrivateBroker):
    """A private Mosquitto on a free loopback port (see bot.alerts.broker)."""

    def start(self, timeout_s: float = 5.0) -> None:
        try:
            super().start(timeout_s)
        except MarginbotError as exc:
            pytest.fail(str(exc))


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    """A private Mosquitto broker on a free loopback port, stopped after the test."""
    broker = Broker(tmp_path)
    broker.start()
    yield broker.port
    broker.stop()


MARGINBOT = str(Path(sys.executable).with_name("marginbot"))


def read_until(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    """Lines of the process's output up to the one containing `needle`.

    Reads the pipe itself (not through Python's buffer, which `select` cannot see) and keeps
    what follows the needle for the next call.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    pending: str = getattr(process, "_pending_output", "")
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            lines.append(line + "\n")
            if needle in line:
                process._pending_output = pending  # type: ignore[attr-defined]
                return lines
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if not select.select([fd], [], [], min(remaining, 0.2))[0]:
            if process.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536).decode()
        if not chunk:
            break
        pending += chunk
    raise AssertionError(f"{needle!r} not seen; got {lines}")


def sim_process(*arguments: str) -> tuple[subprocess.Popen[str], str]:
    """`marginbot sim` on a free port, and its base URL (http://…); the caller stops it."""
    sim = subprocess.Popen(
        [MARGINBOT, "sim", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return sim, read_until(sim, "simulator on", 20)[-1].split()[-1]
