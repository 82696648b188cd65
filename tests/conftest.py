"""Shared test helpers: instruments, accounts, and the recorded data in ../shared/data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.core.instruments import Instrument, TierTable
from bot.core.ledger import Account, FeeSchedule
from bot.core.values import ZERO, MarginMode, PositionMode, Venue

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
    )


# CI runs the same examples every time (a failure there is reproducible); a developer's run
# explores new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if found is None:
        pytest.fail("the mosquitto broker is not installed; `make test` installs it")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """A private Mosquitto on a free loopback port; it can be stopped and started again on the
    same port, with its persistence, as a restarted production broker would be."""

    def __init__(self, directory: Path, extra: str = "", persistence: bool = False) -> None:
        self.port = free_port()
        self.config = directory / f"mosquitto-{self.port}.conf"
        lines = [f"listener {self.port} 127.0.0.1", extra or "allow_anonymous true"]
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to its own user and could not read the test's
            # private files (passwords, certificates, persistence); keep the test's user.
            lines.append("user root")
        if persistence:
            lines += ["persistence true", f"persistence_location {directory}/"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail("mosquitto did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    """A private Mosquitto broker on a free loopback port, stopped after the test."""
    broker = Broker(tmp_path)
    broker.start()
    yield broker.port
    broker.stop()
