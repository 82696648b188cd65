"""`marginbot demo` (`make demo`): the whole daemon on this machine, no exchange account needed.

It starts the local simulator (the shipped recorded Binance BTCUSDT session, then a scripted
15 % crash in which the last price lags the mark), a broker (the configured one when it
answers, else a private Mosquitto on a free port), and the daemon with the configured accounts.
Every account opens the same 10x long worth ten times half its wallet; an isolated account tops
its margin up to exactly half its wallet (2,000 USDT → a 10,000 USDT long on 1,000 USDT). The
terminal shows mark and last, both ledgers, the alerts as they are delivered over MQTT, and a
summary at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, TextIO

import aiomqtt
import msgspec
import orjson

from bot.alerts.broker import PrivateBroker, reachable
from bot.config import Config, ControlConfig, SimConfig, StateConfig, load_config
from bot.core.engine_events import EngineEvent, PositionLiquidated
from bot.core.ledger.figures import AccountFigures
from bot.core.values import MarginMode, fmt
from bot.daemon import Daemon
from bot.errors import ConfigError, MarginbotError
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import SessionSource, SessionThenScenario

PACKAGE = Path(__file__).resolve().parent.parent
SESSION = PACKAGE / "data/sessions/binance-btcusdt-20230404.jsonl.gz"
CRASH = PACKAGE.parent / "config/scenarios/crash.toml"
SESSION_SPEED = 25.0  # 8.5 recorded minutes of calm in about 20 s
CRASH_SPEED = 5.0  # the 160 s crash in about 32 s
LEVERAGE_MULTIPLE = Decimal(10)


@dataclass
class DemoRun:
    """What the demo saw, for the live lines and the summary."""

    liquidations: dict[str, PositionLiquidated] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)  # alert topics received over MQTT
    opened: dict[str, str] = field(default_factory=dict)


class DemoDaemon(Daemon):
    def __init__(self, run: DemoRun, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_seen = run

    def _effect(self, event: EngineEvent) -> None:
        if isinstance(event, PositionLiquidated):
            self.run_seen.liquidations.setdefault(event.account, event)
        super()._effect(event)


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _account_line(name: str, figures: AccountFigures, mark: Decimal, run: DemoRun) -> str:
    if name in run.liquidations:
        return f"{name}: LIQUIDATED, equity {_usd(figures.margin_balance)}"
    if not figures.positions:
        return f"{name}: no position, equity {_usd(figures.margin_balance)}"
    position = figures.positions[0]
    lp = position.liquidation_price
    away = None if lp is None or mark == 0 else abs(mark - lp) / mark
    return (
        f"{name}: equity {_usd(figures.margin_balance)} liq {_usd(lp)} ({_pct(away)} away)"
        f" ratio {_pct(position.margin_ratio)}"
    )


class LiveDemo:
    def __init__(self, config: Config, out: TextIO, speed: float, workdir: Path) -> None:
        self.config = config
        self.out = out
        self.speed = speed
        self.workdir = workdir
        self.run = DemoRun()
        self.broker: PrivateBroker | None = None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _choose_broker(self) -> Config:
        mqtt = self.config.mqtt
        if not mqtt.enabled:
            return self.config
        if reachable(mqtt.host, mqtt.port):
            self.say(f"broker: {mqtt.host}:{mqtt.port} (from the configuration)")
            return self.config
        self.broker = PrivateBroker(self.workdir)
        try:
            self.broker.start()
        except MarginbotError as exc:
            self.say(f"broker: none ({exc}); alerts stay in the outbox")
            self.broker = None
            return self.config
        self.say(
            f"broker: nothing answers on {mqtt.host}:{mqtt.port}, so a private Mosquitto "
            f"runs on 127.0.0.1:{self.broker.port}"
        )
        mqtt = msgspec.structs.replace(mqtt, host="127.0.0.1", port=self.broker.port)
        return msgspec.structs.replace(self.config, mqtt=mqtt)

    async def _follow_alerts(self, config: Config, subscribed: asyncio.Event) -> None:
        """A subscriber like the trader's phone: print each alert the broker delivers."""
        mqtt = config.mqtt
        try:
            async with aiomqtt.Client(
                mqtt.host, mqtt.port, identifier=f"{mqtt.client_id}-viewer"
            ) as client:
                await client.subscribe(f"{mqtt.prefix}/+/alert/#", qos=1)
                subscribed.set()
                async for message in client.messages:
                    payload = orjson.loads(message.payload)
                    self.run.delivered.append(str(message.topic))
                    self.say(f"   mqtt → {message.topic}  {payload.get('message', '')}")
        except aiomqtt.MqttError:
            pass  # no broker: the alerts wait in the outbox, as the summary says
        finally:
            subscribed.set()

    async def _open_positions(self, daemon: Daemon) -> None:
        kernel = daemon.kernel
        while True:
            prices = kernel.prices("binance", "BTCUSDT")
            if prices is not None and prices.mark is not None and prices.last is not None:
                break
            await asyncio.sleep(0.05)
        for spec in self.config.accounts:
            instrument = kernel.account(spec.name).instruments["BTCUSDT"]
            margin = spec.wallet_balance / 2
            qty = (margin * LEVERAGE_MULTIPLE / prices.last).quantize(
                instrument.lot_size or Decimal("0.001"), ROUND_DOWN
            )
            self._command(
                daemon, cmd="set_leverage", account=spec.name, symbol="BTCUSDT", leverage="10"
            )
            self._command(
                daemon,
                cmd="place_order",
                account=spec.name,
                symbol="BTCUSDT",
                side="buy",
                type="market",
                qty=str(qty),
            )
            position = kernel.position(spec.name, "BTCUSDT")
            if position is None:
                continue
            if position.margin_mode is MarginMode.ISOLATED and position.isolated_margin < margin:
                self._command(
                    daemon,
                    cmd="adjust_margin",
                    account=spec.name,
                    symbol="BTCUSDT",
                    amount=str(margin - position.isolated_margin),
                )
            backing = (
                f"{_usd(position.isolated_margin)} USDT isolated margin"
                if position.margin_mode is MarginMode.ISOLATED
                else "its whole cross wallet "
                f"({_usd(kernel.figures(spec.name).wallet_balance)} USDT after the fee)"
            )
            self.run.opened[spec.name] = (
                f"long {fmt(position.qty)} BTCUSDT at {_usd(position.entry_price)}, "
                f"10x, backed by {backing}"
            )

    def _command(self, daemon: Daemon, **fields: str) -> None:
        reply = daemon.handler.handle(orjson.dumps(fields))
        if not reply.get("ok"):
            raise MarginbotError(f"the demo's {fields['cmd']} was refused: {reply.get('error')}")

    async def _show(self, daemon: Daemon, sim: Simulator) -> None:
        """One line a second: mark, last, their divergence, and each account's ledger."""
        kernel = daemon.kernel
        started = time.monotonic()
        while not sim.finished.is_set():
            await asyncio.sleep(1.0)
            prices = kernel.prices("binance", "BTCUSDT")
            divergence = prices.divergence() if prices is not None else None
            if prices is None or prices.mark is None or prices.last is None or divergence is None:
                continue
            ledgers = "  |  ".join(
                _account_line(name, kernel.figures(name), prices.mark, self.run)
                for name in kernel.accounts()
            )
            self.say(
                f"{time.monotonic() - started:5.0f}s mark {_usd(prices.mark)} last "
                f"{_usd(prices.last)} div {_pct(divergence)}  |  {ledgers}"
            )

    async def main(self) -> int:
        config = self._choose_broker()
        source = SessionThenScenario(
            SessionSource(SESSION, ("binance",)),
            load_scenario(CRASH),
            SESSION_SPEED * self.speed,
            CRASH_SPEED * self.speed,
        )
        async with Simulator(source, wait_for_subscriber=True) as sim:
            config = msgspec.structs.replace(
                config,
                sim=SimConfig(base_url=sim.base_url("ws")),
                control=ControlConfig(socket=config.control.socket),
                # Each demo tells its story from the start: a fresh ledger, not the last one's.
                state=StateConfig(directory=str(self.workdir / "state")),
            )
            config = _free_ports(config)
            daemon = DemoDaemon(self.run, config, None, self.out)
            subscribed = asyncio.Event()
            viewer = asyncio.create_task(self._follow_alerts(config, subscribed))
            # The phone listens before the daemon speaks: it hears daemon_started too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscribed.wait(), 5)
            ready = asyncio.Event()
            running = asyncio.create_task(daemon.run(ready=ready.set))
            await ready.wait()
            if daemon.web_url is not None:
                self.say(f"web view: open {daemon.web_url} in a browser (live while the demo runs)")
            self.say(
                "the simulator plays the recorded BTCUSDT session of 2023-04-04 "
                f"({SESSION_SPEED * self.speed:g}x), then a 15 % crash in which the last price "
                "lags the mark by 1 %"
            )
            await self._open_positions(daemon)
            for name, opened in self.run.opened.items():
                self.say(f"{name}: {opened}")
            shower = asyncio.create_task(self._show(daemon, sim))
            finished = asyncio.create_task(sim.finished.wait())
            await asyncio.wait({running, finished}, return_when=asyncio.FIRST_COMPLETED)
            await _caught_up(daemon)
            await asyncio.sleep(1.0)  # the last alerts reach the broker and the viewer
            daemon.stop.set()
            await running
            for task in (viewer, shower, finished):
                task.cancel()
            await asyncio.gather(viewer, shower, finished, return_exceptions=True)
            self._summary(daemon)
        return 0

    def _summary(self, daemon: Daemon) -> None:
        kernel = daemon.kernel
        prices = kernel.prices("binance", "BTCUSDT")
        mark = prices.mark if prices is not None else None
        self.say("\nWhat happened:")
        for name in kernel.accounts():
            figures = kernel.figures(name)
            wallet = next(a.wallet_balance for a in self.config.accounts if a.name == name)
            liquidated = self.run.liquidations.get(name)
            if liquidated is not None:
                gone = liquidated.liquidation.positions[0]
                lost = liquidated.liquidation.loss
                self.say(
                    f"  {name:<9} was liquidated at mark {_usd(gone.mark_price)} (liquidation "
                    f"price {_usd(gone.liquidation_price)}): it lost {_usd(lost)} USDT of "
                    f"margin and keeps {_usd(figures.margin_balance)} of its {_usd(wallet)}"
                )
            elif figures.positions and mark is not None:
                lp = figures.positions[0].liquidation_price
                self.say(
                    f"  {name:<9} survived: equity {_usd(figures.margin_balance)} of "
                    f"{_usd(wallet)} at mark {_usd(mark)}; its liquidation price {_usd(lp)} "
                    f"is {_pct(abs(mark - lp) / mark if lp else None)} below"
                )
            else:
                self.say(f"  {name:<9} equity {_usd(figures.margin_balance)}")
        kinds = sorted({topic.rsplit("/", 1)[-1] for topic in self.run.delivered})
        self.say(
            f"  {len(self.run.delivered)} alerts delivered over MQTT"
            + (f" ({', '.join(kinds)})" if kinds else "")
        )
        recorded = daemon.recorded
        if recorded is not None:
            qty = next(iter(self.run.opened.values()), "").split(" ")[1:2]
            self.say(
                f"  the session is recorded in {recorded}; replay it with\n"
                f"    {_command()} replay {recorded} --config config/demo.toml\n"
                f"  and ask what isolated and cross would have done at other leverages with\n"
                f"    {_command()} compare {recorded} --symbol BTCUSDT --side long "
                f"--qty {qty[0] if qty else '0.355'} --leverage 10 --wallet 2000 "
                "--isolated-margin 1000 --leverage-grid 5,10,20 --html logs/compare.html"
            )


async def _caught_up(daemon: Daemon, quiet_s: float = 1.0, bound_s: float = 60.0) -> None:
    """On a slow or busy machine the daemon may still be reading what the simulator sent at
    100x: wait until it has processed nothing new for `quiet_s` (at most `bound_s`)."""
    deadline = time.monotonic() + bound_s
    seen = -1
    while time.monotonic() < deadline:
        total = sum(daemon.event_counts.values())
        if total == seen:
            return
        seen = total
        await asyncio.sleep(quiet_s)


def _taken(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _free_ports(config: Config) -> Config:
    """The demo's page and metrics on their configured ports, or on free ones when those are
    taken (a second demo, say): the addresses are printed either way."""
    web, metrics = config.web, config.metrics
    if web.enabled and web.port and _taken(web.host, web.port):
        config = msgspec.structs.replace(config, web=msgspec.structs.replace(web, port=0))
    if metrics.enabled and metrics.port and _taken(metrics.host, metrics.port):
        metrics = msgspec.structs.replace(metrics, port=0)
        config = msgspec.structs.replace(config, metrics=metrics)
    return config


def _command() -> str:
    """How the user ran marginbot (`.venv/bin/marginbot` under `make demo`)."""
    invoked = Path(sys.argv[0])
    if invoked.name == "marginbot":
        return os.path.relpath(invoked) if invoked.is_absolute() else str(invoked)
    return "marginbot"


def run_live_demo(config_path: Path, out: TextIO, speed: float = 1.0) -> int:
    if speed <= 0:
        raise ConfigError("--speed must be positive")
    config = load_config(config_path)
    if not config.accounts:
        raise ConfigError(f"{config_path}: the demo needs at least one [[accounts]] table")
    with tempfile.TemporaryDirectory(prefix="marginbot-demo-") as workdir:
        demo = LiveDemo(config, out, speed, Path(workdir))
        try:
            return asyncio.run(demo.main())
        finally:
            if demo.broker is not None:
                demo.broker.stop()
