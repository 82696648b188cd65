"""`marginbot run`: one asyncio process routing inputs to the kernel and a Step to effects.

    feeds (websockets) ──► journal (state/) ──► Kernel.step(input, key) ──► Step
    CLI socket, MQTT ──► CommandHandler ──┘     (engine, alert rules,       │
    recorder ◄── frames and commands              strategies: bot/core)     ▼
      events, alerts, strategy commands ──► journal, recorder, AlertDispatch (outbox, MQTT,
      terminal), TestnetCoordinator (mirror, reconcile), --events-out, the web view, metrics

The daemon decides nothing: it turns bytes into kernel inputs and carries out what a step
returns. Market frames and commands are handled one at a time on the event loop, so the kernel
sees one ordered stream of inputs, which is also the order the session records and the journal
keeps: replaying the session gives the same fills and the same alerts (with the same ids), and
a recovery the same ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import msgspec
import structlog

from bot import __version__
from bot.aio import wait_event
from bot.alerts.dispatch import AlertDispatch
from bot.config import AccountConfig, AlertsConfig, Config, accounts_digest, config_digest
from bot.control.handler import CommandHandler
from bot.control.mqtt_commands import CommandChannel, serve_commands
from bot.control.signing import CommandGate
from bot.control.socket_server import ControlServer
from bot.core.alerting.alert import Alert, Severity
from bot.core.alerting.settings import RuleBook, RuleSettings
from bot.core.commands import ClosePosition, LoadInstruments, PlaceOrder
from bot.core.engine import Engine, Input
from bot.core.feed_events import FeedEvent
from bot.core.kernel import EMPTY, Kernel, Step
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.market import LastPrice, MarketEvent, MarkPrice, Trade
from bot.core.values import AccountType, MarginMode, PositionMode, Venue, fmt
from bot.errors import ConfigError, MarginbotError
from bot.feeds.client import FeedClient, FeedSettings
from bot.markets.snapshot import bundled_for
from bot.session.events_out import alert_line, event_line, kind_of
from bot.session.format import SessionHeader
from bot.session.io import RotatingRecorder
from bot.state.quarantine import Quarantine
from bot.state.store import Recovery, StateStore
from bot.strategy import StrategyRunner, load_strategy
from bot.terminal import describe
from bot.testnet.coordinator import TestnetCoordinator, build_mirrors
from bot.testnet.credentials import load_command_secret, load_credentials
from bot.testnet.events import ReconciliationDrift
from bot.venues.spec import SPECS
from bot.web.history import History
from bot.web.server import HttpServer

log = structlog.get_logger("marginbot.daemon")


def build_account(config: AccountConfig) -> Account:
    venue = Venue(config.venue)
    fees = FeeSchedule(config.fees.maker, config.fees.taker) if config.fees else None
    return Account(
        venue,
        bundled_for(venue),
        config.wallet_balance,
        position_mode=PositionMode(config.position_mode),
        fees=fees,
        default_leverage=config.leverage,
        default_margin_mode=MarginMode(config.margin_mode),
        account_type=AccountType(config.account_type) if config.account_type else None,
    )


def rule_book(alerts: AlertsConfig) -> RuleBook:
    """The alert rules' settings: [alerts] as the default, overrides by account and symbol."""
    default = RuleSettings(
        near_liquidation=alerts.near_liquidation,
        divergence=alerts.divergence,
        margin_ratio_levels=alerts.margin_ratio_levels,
        hysteresis=alerts.hysteresis,
        cooldown_s=alerts.cooldown_s,
        funding_threshold=alerts.funding_threshold,
    )
    overrides = {}
    for override in alerts.overrides:
        changes = {
            k: v
            for k, v in msgspec.structs.asdict(override).items()
            if k not in ("account", "symbol") and v is not None
        }
        overrides[(override.account, override.symbol)] = replace(default, **changes)
    return RuleBook(default, overrides)


def build_engine(config: Config) -> Engine:
    return Engine({a.name: build_account(a) for a in config.accounts})


def build_kernel(config: Config, engine: Engine | None = None, session: str = "") -> Kernel:
    """The configuration's kernel: its accounts (or `engine`, a recovered one), its alert
    settings and its strategies. The daemon and replay build it the same way."""
    strategies = [
        StrategyRunner(
            s.name,
            load_strategy(s.file, s.module, s.name, {"account": s.account, **s.params}),
            s.account,
        )
        for s in config.strategies
    ]
    return Kernel(
        engine or build_engine(config), rule_book(config.alerts), strategies, session=session
    )


def settle_heap() -> None:
    """Move what start-up built (modules, instruments, tiers, the recovered engine: 41,000
    objects in the tick-to-alert benchmark's daemon) out of the cyclic collector's sight.
    Otherwise a full collection walks all of it while a tick waits: 27 ms during that
    benchmark on a 2-core machine, the worst of its tail.
    What the daemon allocates later is still collected as usual; a start-up object that later
    becomes cyclic garbage is not reclaimed (bounded by the start-up heap). `marginbot run`
    calls it once ready; a daemon run inside another program (the tests) leaves its heap be."""
    gc.collect()
    gc.freeze()


class Daemon:
    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        out: TextIO,
        events_out: BinaryIO | None = None,
    ) -> None:
        self.config = config
        self.out = out
        self.events_out = events_out
        # Credentials first: a missing key is the user's first problem to hear about.
        self.testnet = TestnetCoordinator(config, build_mirrors(config), self._publish_venue, out)
        self.mirrors = self.testnet.mirrors
        self.state: StateStore | None = None
        self.recovery: Recovery | None = None
        keep_state = config.state.enabled and bool(config.accounts)
        self.quarantine = Quarantine(
            Path(config.state.directory) / "quarantine.jsonl" if keep_state else None
        )
        if keep_state:
            self.state = StateStore(
                Path(config.state.directory),
                accounts_digest(config),
                fsync=config.state.durability == "power",
                keep_journal=config.state.keep_journal,
            )
            self.recovery = self.state.recover(lambda: build_engine(config), self.quarantine)
            engine = self.recovery.engine
        else:
            engine = build_engine(config)
        self.recorder: RotatingRecorder | None = None
        self.recorded: Path | None = None  # the session file, once the daemon has stopped
        if config.recording.enabled:
            header = SessionHeader(
                venues=tuple(dict.fromkeys(f.venue for f in config.feeds)),
                symbols=tuple(dict.fromkeys(s.upper() for f in config.feeds for s in f.symbols)),
                start_time_ns=time.time_ns(),
                marginbot_version=__version__,
                config_digest=config_digest(config_path) if config_path else None,
                source={
                    "recorded_by": "marginbot run",
                    "accounts": [a.name for a in config.accounts],
                },
            )
            self.recorder = RotatingRecorder(
                Path(config.recording.directory),
                header,
                config.recording.max_file_mb * 2**20,
                config.recording.compress,
            )
        self.refused_inputs: dict[str, int] = {}  # bad market data skipped, by kind
        # Signed MQTT commands (bot/control/signing.py): only when asked for, and refused at
        # start when no account has a command secret to sign them with.
        self.commands = CommandChannel()
        self.command_task: asyncio.Task[None] | None = None
        self.command_gate: CommandGate | None = None
        if config.mqtt.enabled and config.mqtt.commands:
            secrets = {
                a.name: secret
                for a in config.accounts
                if (secret := load_command_secret(a.name, a.secrets_file)) is not None
            }
            if not secrets:
                raise ConfigError(
                    "mqtt.commands is on but no account has a command secret: set "
                    "MARGINBOT_<ACCOUNT>_COMMAND_SECRET (or command_secret in its secrets "
                    "file), or turn mqtt.commands off"
                )
            self.command_gate = CommandGate(secrets)
        self._init_kernel(engine)
        self.handler = CommandHandler(
            self.kernel,
            self._record,
            self._apply_command,
            journal=self._journal,
            status=self._status,
            admit=self._admit,
        )
        # How old a price may be for an order to fill at it: the feed's own stale limit.
        self.max_price_age_ns: dict[str, int] = {}
        for feed in config.feeds:
            limit = int(feed.stale_after_s * 1e9)
            self.max_price_age_ns[feed.venue] = max(limit, self.max_price_age_ns.get(feed.venue, 0))
        self.storage_error: str | None = None  # the journal cannot be written (a full disk)
        self.unjournaled = 0  # market inputs dropped because they could not be journaled
        self.feeds = [
            FeedClient(
                SPECS[f.venue],
                route,
                self._on_market,
                recorder=self.recorder,
                settings=FeedSettings(stale_after_s=f.stale_after_s),
            )
            for f in config.feeds
            for route in f.routes(config.sim.base_url)
        ]
        self.stop = asyncio.Event()
        self.stop_seconds: float | None = None  # how long the graceful stop took
        self.event_counts: dict[tuple[str, str], int] = {}  # (venue, kind) → events
        self._init_watching()
        self.alerts = AlertDispatch(config, out, self.started_ns)
        self.outbox = self.alerts.outbox
        self.publishers = self.alerts.publishers
        self.alert_counts = self.alerts.counts
        self.strategy_errors = 0
        self._reconcile_now = self.testnet.reconcile_now

    def _init_kernel(self, engine: Engine) -> None:
        self.started_ns = time.time_ns()
        # Alert ids come from the session and each input's place in it (bot/core/kernel.py).
        session = self.recorder.header.start_time_ns if self.recorder else self.started_ns
        self.kernel = build_kernel(self.config, engine, session=str(session))
        self.engine = engine  # for the state store's snapshots and the testnet coordinator
        self._inputs = 0  # inputs stepped without a recording to key them by

    def _init_watching(self) -> None:
        """What /metrics and the web view read."""
        self.metrics_url: str | None = None
        self.web_url: str | None = None
        self.http: HttpServer | None = None
        self.steps = 0  # inputs given to the engine: the web view's sign that figures moved
        self.history = History(points=self.config.web.history_points)
        self.charting = self.config.web.enabled  # keep the price history only for a page

    def _record(self, record: dict[str, object]) -> None:
        if self.recorder is not None:
            self.recorder.write(record)

    def _status(self) -> dict[str, Any]:
        """The daemon's own health for `marginbot status`: feeds, prices, alerts, state."""
        prices = {}
        for (venue, symbol), p in self.kernel.all_prices().items():
            divergence = p.divergence()
            prices[f"{venue}:{symbol}"] = {
                "mark": fmt(p.mark) if p.mark is not None else None,
                "last": fmt(p.last) if p.last is not None else None,
                "divergence": fmt(divergence) if divergence is not None else None,
            }
        return {
            "version": __version__,
            "uptime_s": round((time.time_ns() - self.started_ns) / 1e9, 1),
            "feeds": [
                {
                    "venue": f.spec.name,
                    "stream": f.route.label,
                    "url": f.url,
                    "healthy": f.health() is None,
                    "problem": f.health(),
                    "frames": f.stats.frames,
                    "reconnects": f.stats.reconnects,
                    "median_lag_ms": f.stats.median_lag_ms,
                }
                for f in self.feeds
            ],
            "prices": prices,
            "outbox_depth": self.outbox.depth() if self.outbox is not None else None,
            "alerts_raised": sum(self.alert_counts.values()),
            "metrics": self.metrics_url,
            "web": self.web_url,
            "recording": str(self.recorder.path) if self.recorder is not None else None,
            "recording_lost": self.recorder.lost if self.recorder is not None else 0,
            "recording_error": self.recorder.error if self.recorder is not None else None,
            "storage_error": self.storage_error,
            "unjournaled_inputs": self.unjournaled,
            "quarantined_inputs": self.quarantine.count,
            "last_quarantined": self.quarantine.last,
        }

    def _key(self) -> str | int:
        """The input's place in the session: the ordinal of its record (just written; a
        market event adds its place among the frame's events). Replay keys it the same."""
        if self.recorder is None:
            self._inputs += 1
            return f"input.{self._inputs}"
        return self.recorder.records

    def _step(self, item: Input, key: str | int, index: int = -1) -> Step:
        """The kernel's step, fenced. Bad market data (a price of zero, say) is refused by the
        engine before it changes anything: skipped, counted, logged once per kind. Anything
        else the kernel raises is a bug: the input is quarantined (bot/state/quarantine.py) and
        the daemon goes on; a recovery skips it the same way."""
        self.steps += 1
        try:
            return self.kernel.step(item, key, index)
        except MarginbotError as exc:
            if not isinstance(item, MarketEvent):
                raise
            kind = kind_of(type(item))
            self.refused_inputs[kind] = self.refused_inputs.get(kind, 0) + 1
            if self.refused_inputs[kind] == 1:
                log.warning("market_input_refused", input=kind, reason=str(exc))
            return EMPTY
        except Exception as exc:
            kind = kind_of(type(item))
            first = self.quarantine.keep(time.time_ns(), kind, item, exc, None)
            log.exception("input_quarantined", input=kind, count=self.quarantine.count)
            if first:
                self._raise(
                    [
                        Alert(
                            "input_quarantined",
                            Severity.CRITICAL,
                            time.time_ns(),
                            getattr(item, "account", None),
                            getattr(item, "symbol", None),
                            f"marginbot's engine failed on {self.quarantine.last}. The input was "
                            "set aside and the engine goes on; please report "
                            f"{self.quarantine.path or 'the log'}.",
                        )
                    ]
                )
            if isinstance(item, MarketEvent):
                return EMPTY
            raise MarginbotError(
                f"internal error on this command ({type(exc).__name__}); it was set aside "
                "(quarantined) and changed nothing you can rely on: check the account with "
                "`marginbot status`"
            ) from None

    def _journal(self, inputs: list[Input]) -> None:
        """Journal before applying; what cannot be journaled is refused, never applied."""
        if self.state is None:
            return
        try:
            self.state.append(inputs)
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc.strerror or exc}"
            if self.storage_error is None:
                log.warning("journal_failed", error=reason, directory=str(self.state.directory))
                self._daemon_alert(
                    "storage_failed",
                    f"marginbot cannot write its journal ({reason}): inputs are refused until "
                    "it can; free space in " + str(self.state.directory),
                    Severity.CRITICAL,
                )
            self.storage_error = reason
            raise MarginbotError(
                f"the journal cannot be written ({reason}); nothing was applied: free disk "
                "space, and marginbot resumes by itself"
            ) from None
        if self.storage_error is not None:
            log.info("journal_recovered", was=self.storage_error)
            self.storage_error = None
            self._daemon_alert("storage_recovered", "marginbot writes its journal again")

    def _admit(self, command: Input) -> None:
        """No order on a stale price: after a feed outage (or a full disk that dropped market
        data) the last price may be minutes old, and an order must not fill at it."""
        if not isinstance(command, PlaceOrder | ClosePosition):
            return
        if not self.kernel.has_account(command.account):
            return
        account = self.kernel.account(command.account)
        symbol = command.request.symbol if isinstance(command, PlaceOrder) else command.symbol
        venue = str(account.venue)
        fed = {s.upper() for f in self.config.feeds if f.venue == venue for s in f.symbols}
        if symbol not in fed and symbol in account.instruments:
            raise MarginbotError(
                f"no feed carries {symbol}: add it to the symbols of the {venue} [[feeds]] "
                "table, so that it has prices, and restart"
            )
        prices = self.kernel.prices(venue, symbol)
        limit = self.max_price_age_ns.get(venue)
        if prices is None or limit is None or prices.ts_event == 0:
            return  # no price at all: the engine refuses in its own words
        age = time.time_ns() - prices.ts_event
        if age > limit:
            raise MarginbotError(
                f"the last {venue} price of {symbol} is {age / 1e9:.0f} s old (feeds are stale "
                f"after {limit / 1e9:g} s): the order was not placed; wait for the feed"
            )

    def _on_market(self, events: list[MarketEvent | FeedEvent]) -> None:
        """One frame's events, in order: each market event a kernel input keyed by the frame's
        record and its place among them; the feed's own events (stale, recovered) only raise
        their alerts (not replayed: they come from this process)."""
        try:
            self._journal([e for e in events if self.kernel.reads(e)])  # type: ignore[misc]
        except MarginbotError:
            # Not journaled, so not applied: the feed's own events still raise their alerts;
            # prices resume when the journal can be written again.
            events = [e for e in events if isinstance(e, FeedEvent)]
            self.unjournaled += 1
        counts = self.event_counts
        index = 0
        record = self._key()  # the frame's record: its events are record.0, record.1, ...
        for event in events:
            kind = (getattr(event, "venue", ""), kind_of(type(event)))
            counts[kind] = counts.get(kind, 0) + 1
            if isinstance(event, FeedEvent):
                step = self.kernel.step(event, "feed")
                self._raise(list(step.alerts))  # a process alert: a fresh id, not a replayed one
                continue
            step = self._step(event, record, index)
            index += 1
            self._carry_out(step)
            if self.charting and isinstance(event, MarkPrice | Trade | LastPrice):
                prices = self.kernel.prices(event.venue, event.symbol)
                if prices is not None:
                    self.history.price(
                        f"{event.venue}:{event.symbol}", event.ts_event, prices.mark, prices.last
                    )
            if isinstance(event, MarkPrice):
                self.alerts.positions(self.kernel, event)

    def _apply_command(self, command: Input) -> Step:
        """A trader command, journaled and recorded by the handler: step and carry out."""
        step = self._step(command, self._key())
        self._carry_out(step)
        return step

    def _carry_out(self, step: Step) -> None:
        """A step's effects, in order: its events, each strategy command (journaled and
        recorded as the strategy's, then its events), then its alerts."""
        for event in step.events:
            self._effect(event)
        for applied in step.commands:
            with contextlib.suppress(MarginbotError):  # a full disk: the command stands
                self._journal([applied.command])
            self._record(
                {
                    "t": "command",
                    "ts": getattr(applied.command, "ts", 0),
                    "by": "strategy",
                    "strategy": applied.strategy,
                    "data": msgspec.to_builtins(applied.asked),
                }
            )
            for event in applied.events:
                self._effect(event)
        for name, error in step.strategy_errors:
            self.strategy_errors += 1
            log.warning("strategy_error", strategy=name, error=error)
        if step.alerts:
            self._raise(list(step.alerts), list(step.alert_ids))
            if self.events_out is not None:
                for alert, alert_id in zip(step.alerts, step.alert_ids, strict=True):
                    self.events_out.write(alert_line(alert, alert_id))
                self.events_out.flush()

    def _effect(self, event: Any) -> None:
        """One event (the engine's, or the testnet venue's) to the mirror, --events-out and the
        terminal."""
        self.testnet.on_event(event)
        if self.events_out is not None:
            self.events_out.write(event_line(event))
            self.events_out.flush()  # a reader tailing the file sees each event at once
        line = describe(event)
        if line is not None:
            self.out.write(line + "\n")
            self.out.flush()

    def _publish_venue(self, events: list[Any]) -> None:
        """What the testnet coordinator reports (mirrored orders, reconciliation): shown and
        written like engine events; a drift raises its alert (of this process, not replayed)."""
        for event in events:
            self._effect(event)  # the coordinator hears it too: the venue answered, reconcile
            if isinstance(event, ReconciliationDrift):
                drift = event.drift
                self._raise(
                    [
                        Alert(
                            "reconciliation_drift",
                            Severity.WARNING,
                            event.ts,
                            event.account,
                            drift.symbol,
                            drift.describe(),
                            (
                                ("field", drift.field),
                                ("local", drift.local),
                                ("exchange", drift.remote),
                            ),
                        )
                    ]
                )

    def _raise(self, alerts: list[Alert], ids: list[str] | None = None) -> None:
        """Deliver alerts: the kernel's with the ids it derived, the process's with new ones."""
        if not alerts:
            return
        ids = self.alerts.raise_(alerts, ids)
        if self.charting:
            for alert, alert_id in zip(alerts, ids, strict=True):
                self.history.alert(alert, alert_id)

    def _daemon_alert(self, kind: str, message: str, severity: Severity = Severity.INFO) -> None:
        self._raise([Alert(kind, severity, time.time_ns(), None, None, message)])

    async def _load_missing_instruments(self) -> None:
        """Instruments the bundled snapshot lacks (all of Bybit's), from the venue via ccxt."""
        for spec in self.config.accounts:
            account = self.kernel.account(spec.name)
            feeds = [f for f in self.config.feeds if f.venue == spec.venue]
            missing = sorted(
                {s.upper() for f in feeds for s in f.symbols} - set(account.instruments)
            )
            if not missing:
                continue
            from bot.markets.loader import load_instruments  # noqa: PLC0415 — ccxt is slow to import
            from bot.testnet.errors import exchange_error  # noqa: PLC0415 — ccxt is slow to import
            from bot.testnet.mirror import public_exchange  # noqa: PLC0415 — ccxt is slow to import

            network = feeds[0].network
            url = spec.exchange_url or (
                self.config.sim.base_url.replace("ws://", "http://").replace("wss://", "https://")
                if network == "sim"
                else None
            )
            # A testnet account's key also reads Binance's brackets (USER_DATA); a paper
            # account has none, and Binance refuses them without one (said below, by the venue).
            credentials = None
            if spec.execution == "testnet" and network != "mainnet":
                credentials = load_credentials(
                    spec.name, spec.secrets_file, needs_passphrase=spec.venue == "okx"
                )
            exchange = public_exchange(spec.venue, url, network, credentials)
            try:
                loaded = await load_instruments(exchange, Venue(spec.venue), missing)
                command = LoadInstruments(spec.name, tuple(loaded.values()))
                self._journal([command])
                self._carry_out(self._step(command, f"instruments.{spec.name}"))
            except Exception as exc:
                reason = exc if isinstance(exc, MarginbotError) else exchange_error(exc)
                if spec.venue == "binance" and credentials is None:
                    bundled = ", ".join(sorted(bundled_for(Venue.BINANCE)))
                    reason = MarginbotError(
                        f"{reason} (Binance gives leverage brackets only to an API key: trade "
                        f"the bundled {bundled}, or make this a testnet account with a key)"
                    )
                self.out.write(
                    f"[{spec.name}] cannot load {', '.join(missing)} from "
                    f"{spec.venue}: {reason}; orders on them will be refused\n"
                )
            finally:
                await exchange.close()

    async def _hint_when_no_simulator(self) -> None:
        """A new user's commonest first problem: the simulator is not running."""
        await asyncio.sleep(2.0)
        networks: dict[str, str] = {f.venue: f.network for f in self.config.feeds}
        told: set[str] = set()
        for feed in self.feeds:
            venue = feed.spec.name
            if networks.get(venue) == "sim" and feed.stats.connects == 0 and venue not in told:
                told.add(venue)
                self.out.write(
                    f"no simulator answers on {feed.url}: start one with `marginbot sim` "
                    "(the feed keeps retrying)\n"
                )
                self.out.flush()

    async def _snapshots(self) -> None:
        assert self.state is not None
        while True:
            await asyncio.sleep(self.config.state.snapshot_interval_s)
            try:
                self.state.snapshot(self.engine)
            except Exception as exc:  # a full disk must not stop the ledger: the journal has it
                log.exception("snapshot_failed", error=repr(exc))

    async def _flush_recording(self) -> None:
        """The session reaches its file at least every second, also when nothing new comes."""
        assert self.recorder is not None
        while True:
            await asyncio.sleep(0.5)
            try:
                self.recorder.flush_if_due()
            except OSError as exc:  # a full disk: the journal has the inputs, the log says so
                log.warning("recording_flush_failed", error=str(exc))

    def _close_state(self) -> None:
        if self.state is not None:
            self.state.snapshot(self.engine)  # the next start replays nothing
            self.state.close()

    def _on_signal(self) -> None:
        if self.stop.is_set():
            # The second signal: stop now. The journal is committed, so the next start
            # recovers the exact ledger; only undelivered alerts wait in the outbox.
            self.out.write("second signal: stopping at once\n")
            self.out.flush()
            os._exit(130)
        self.stop.set()

    async def _start_http(self) -> HttpServer | None:
        """/metrics and /healthz ([metrics]) and the web view ([web]); a port in use is said
        and the daemon runs on without it: these are for watching, the ledger goes on."""
        metrics = self.config.metrics if self.config.metrics.enabled else None
        page = self.config.web if self.config.web.enabled else None
        if metrics is None and page is None:
            return None
        server = HttpServer(self, metrics, page)
        urls = await server.start()
        self.metrics_url = urls.get("metrics")
        self.web_url = urls.get("web")
        self.http = server
        return server

    def _announce(self, socket_path: Path) -> None:
        accounts = ", ".join(
            f"{a.name} ({a.venue} {a.margin_mode} {fmt(a.wallet_balance)})"
            for a in self.config.accounts
        )
        if self.recovery is not None and self.state is not None:
            self.out.write(self.recovery.describe(self.state.directory) + "\n")
            if self.recovery.quarantined:
                self._raise(
                    [
                        Alert(
                            "input_quarantined",
                            Severity.CRITICAL,
                            time.time_ns(),
                            None,
                            None,
                            f"recovery skipped {self.recovery.quarantined} journaled inputs that "
                            f"break the engine (last: {self.quarantine.last}); please report "
                            f"{self.quarantine.path}.",
                        )
                    ]
                )
        self.out.write(
            f"marginbot {__version__} ready: accounts {accounts or 'none'}; "
            f"commands on {socket_path}"
            + (f"; metrics on {self.metrics_url}/metrics" if self.metrics_url else "")
            + (f"; web view on {self.web_url}" if self.web_url else "")
            + "\n"
        )
        self.out.flush()
        log.info("daemon_ready", socket=str(socket_path))
        self._daemon_alert(
            "daemon_started",
            f"marginbot {__version__} started: "
            f"{', '.join(a.name for a in self.config.accounts) or 'no accounts'}",
        )

    def _start_tasks(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(f.run(), name=f"feed-{f.route.label}") for f in self.feeds]
        if self.state is not None:
            tasks.append(asyncio.create_task(self._snapshots(), name="state-snapshots"))
        if self.recorder is not None:
            tasks.append(asyncio.create_task(self._flush_recording(), name="recording-flush"))
        tasks.append(asyncio.create_task(self._hint_when_no_simulator(), name="sim-hint"))
        if self.command_gate is not None:
            self.command_task = asyncio.create_task(
                serve_commands(
                    self.config.mqtt, self.handler.handle, self.command_gate, self.commands
                ),
                name="mqtt-commands",
            )
            tasks.append(self.command_task)
        return tasks

    async def _stop_tasks(
        self,
        tasks: list[asyncio.Task[None]],
        reconcilers: list[asyncio.Task[None]],
        publishing: list[asyncio.Task[None]],
    ) -> None:
        for feed in self.feeds:
            feed.stop()
        await self.alerts.flush(publishing)
        for task in [*tasks, *reconcilers]:
            if not task.get_name().startswith("feed-"):
                task.cancel()
        # Bounded: a task that does not stop within 5 s is left behind, not waited for.
        remaining = [*tasks, *reconcilers, *self.testnet.background]
        _, stuck = await asyncio.wait(remaining, timeout=5) if remaining else (set(), set())
        for task in stuck:
            log.warning("task_did_not_stop", task=task.get_name())
        await self.testnet.close()

    async def run(
        self, duration_s: float | None = None, ready: Callable[[], None] | None = None
    ) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal)
        await self._load_missing_instruments()
        reconcilers = await self.testnet.start(self.kernel)  # before commands or prices
        publishing = self.alerts.start()
        socket_path = Path(self.config.control.socket)
        http = await self._start_http()
        async with ControlServer(socket_path, self.handler.handle):
            tasks = self._start_tasks()
            self._announce(socket_path)
            if ready is not None:
                ready()
            try:
                await wait_event(self.stop, duration_s)
            except asyncio.CancelledError:
                # Cancelled, not stopped (an embedding program ends its loop): nothing of the
                # daemon may outlive it.
                for feed in self.feeds:
                    feed.stop()
                for task in [*tasks, *reconcilers, *publishing]:
                    task.cancel()
                if http is not None:
                    http.closing.set()
                    with contextlib.suppress(Exception):
                        await asyncio.shield(http.stop())
                raise
            stopping = time.monotonic()
            self._daemon_alert("daemon_stopping", f"marginbot {__version__} is stopping")
            await self._stop_tasks(tasks, reconcilers, publishing)
        if http is not None:
            await http.stop()
        self._close_state()
        if self.events_out is not None:
            self.events_out.flush()
        if self.recorder is not None:
            self.recorded = self.recorder.path
            self.recorder.close()
            if self.recorded is not None:
                self.out.write(f"session recorded in {self.recorded}\n")
        self.stop_seconds = time.monotonic() - stopping
        log.info("daemon_stopped", seconds=round(self.stop_seconds, 3))
        self.out.write(f"marginbot stopped in {self.stop_seconds:.2f} s\n")
        return 0
