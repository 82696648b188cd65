"""The kernel: one deterministic step for the daemon, replay, benchmarks and tests.

It owns the engine (prices, ledgers, orders, triggers, liquidation, funding), the alert rules
and the strategies, with all of their state, and turns one input into everything it causes:

    Kernel.step(input, key) ─► Step
        1. the engine's events for the input
        2. the alerts: the price rules on the input, then the event rules on each engine event
        3. each strategy consulted with the input and each event; the commands it returns are
           applied at once, in order, and their events, alerts and strategies' answers follow
           (at most MAX_STRATEGY_DEPTH levels deep: a runaway loop stops there)

Alert ids are derived from the session, the input's key (where it stands in the session: the
daemon and replay give the same key to the same input) and the alert's place in the step, so
a live run and a replay of its session give every alert the same id, and a consumer can
de-duplicate. Nothing here reads a clock, the network or a file; the shells do that with the
Step they are given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.alerting.alert import Alert
from bot.core.alerting.price_rules import AlertRules
from bot.core.alerting.settings import RuleBook
from bot.core.commands import Command
from bot.core.engine import Engine, Input
from bot.core.engine_events import EngineEvent
from bot.core.feed_events import FeedEvent
from bot.core.ledger.account import Account, Position
from bot.core.ledger.figures import AccountFigures, account_figures
from bot.core.orders.model import Order, OrderStatus
from bot.core.prices import SymbolPrices
from bot.core.values import PositionSlot
from bot.errors import MarginbotError

MAX_STRATEGY_DEPTH = 8  # commands causing events causing commands: stop a runaway loop
ALERT_NAMESPACE = uuid.UUID("5d1b6a3e-7f0c-4f7e-9a51-6d1c2b9e0a11")  # marginbot alert ids


class StrategySlot(Protocol):
    """A strategy as the kernel sees it: events in, core commands out (bot/strategy.py adapts
    the user's strategy objects, whose commands use the JSON schema, to this)."""

    name: str

    def decide(self, event: object, ts: int, kernel: Kernel) -> list[tuple[Command, Any]]:
        """The commands to apply, each with the form the strategy gave it (which the daemon
        records in the session)."""
        ...


@dataclass(frozen=True, slots=True)
class StrategyCommand:
    """A command a strategy asked for, applied within the step, with what it caused."""

    strategy: str
    command: Command
    asked: Any  # the command as the strategy gave it
    events: tuple[EngineEvent, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """Everything one input caused, in the order it happened."""

    events: tuple[EngineEvent, ...] = ()  # the input's own engine events
    alerts: tuple[Alert, ...] = ()  # every alert of the step, strategy-caused ones included
    alert_ids: tuple[str, ...] = ()  # one per alert
    commands: tuple[StrategyCommand, ...] = ()  # the strategies' commands, as applied
    strategy_errors: tuple[tuple[str, str], ...] = ()  # (strategy, what went wrong)

    def all_events(self) -> Iterator[EngineEvent]:
        """The input's events, then those of each strategy command, in order."""
        yield from self.events
        for applied in self.commands:
            yield from applied.events


EMPTY = Step()


def alert_id(session: str, key: str, number: int) -> str:
    """The id of the `number`th alert of the input `key` of `session`: a UUID, the same for the
    same alert in a live run and in any replay of its session."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{session}/{key}/{number}"))


class Kernel:
    def __init__(
        self,
        engine: Engine,
        book: RuleBook | None = None,
        strategies: Sequence[StrategySlot] = (),
        session: str = "",
        rules: type[AlertRules] = AlertRules,
    ) -> None:
        """`rules`: the alert rules' class (the differential tests give one without its
        shortcuts, as they give an engine without its bands)."""
        self.engine = engine
        self.rules = rules(engine, book)
        self._engine_step = engine.step  # bound once: the step runs for every tick
        self._on_event = self.rules.on_event
        self.strategies = tuple(strategies)
        self.session = session  # what alert ids are derived from, with each input's key
        if not self.strategies:
            self.step = self._without_strategies()  # type: ignore[method-assign]

    def _without_strategies(self) -> Callable[..., Step]:
        """`step` for a kernel without strategies, its names bound in a closure: it runs for
        every tick, and this is the same step without three attribute look-ups (about 40 ns
        of the 0.9 µs an event costs the benchmark's replay)."""
        engine_step, on_event, name = self._engine_step, self._on_event, self._step

        def step(item: Input | FeedEvent, key: str | int, index: int = -1) -> Step:
            events = engine_step(item)  # type: ignore[arg-type]
            alerts = on_event(item)
            if events:
                for event in events:
                    found = on_event(event)
                    if found:
                        alerts = [*alerts, *found]
                return name(events, alerts, (), (), key, index)
            return name(events, alerts, (), (), key, index) if alerts else EMPTY

        return step

    # -- the step ------------------------------------------------------------------------------

    def step(self, item: Input | FeedEvent, key: str | int, index: int = -1) -> Step:
        """Apply `item`, the input `key` (with `index`, its place among the events of one
        record: key "1234", index 2 make the key "1234.2"). A MarginbotError from the engine
        (bad market data, an unknown account) propagates before anything changed; the caller
        skips or refuses the input. The key is only formatted when there are alerts to name."""
        # The engine ignores feed events; the rules keep their latches (one stale alert per
        # outage). Most inputs cause nothing: two calls and two tests, then EMPTY.
        events = self._engine_step(item)  # type: ignore[arg-type]
        alerts = self._on_event(item)
        if events:
            for event in events:
                found = self._on_event(event)
                if found:
                    alerts = [*alerts, *found]
        if self.strategies:
            applied: list[StrategyCommand] = []
            errors: list[tuple[str, str]] = []
            alerts = list(alerts)
            self._consult([item, *events], _ts(item), 0, applied, alerts, errors)
            if applied or errors or events or alerts:
                return self._step(events, alerts, applied, errors, key, index)
            return EMPTY
        if events or alerts:
            return self._step(events, alerts, (), (), key, index)
        return EMPTY

    def _step(
        self,
        events: Sequence[EngineEvent],
        alerts: Sequence[Alert],
        applied: Sequence[StrategyCommand],
        errors: Sequence[tuple[str, str]],
        key: str | int,
        index: int,
    ) -> Step:
        name = f"{key}.{index}" if index >= 0 else str(key)
        ids = tuple(alert_id(self.session, name, n) for n in range(len(alerts)))
        return Step(tuple(events), tuple(alerts), ids, tuple(applied), tuple(errors))

    def _consult(
        self,
        happened: list[object],
        ts: int,
        depth: int,
        applied: list[StrategyCommand],
        alerts: list[Alert],
        errors: list[tuple[str, str]],
    ) -> None:
        """Give each event to every strategy; apply what they ask for, then consult them with
        what that caused, one level deeper."""
        if depth > MAX_STRATEGY_DEPTH:
            errors.append(("*", f"strategies went {MAX_STRATEGY_DEPTH} commands deep: stopped"))
            return
        for event in happened:
            for strategy in self.strategies:
                try:
                    commands = strategy.decide(event, ts, self)
                except Exception as exc:  # a strategy's bug must not stop the kernel
                    errors.append((strategy.name, f"{type(exc).__name__}: {exc}"))
                    continue
                for command, asked in commands:
                    try:
                        events = self.engine.step(command)
                    except MarginbotError as exc:
                        errors.append((strategy.name, str(exc)))
                        continue
                    applied.append(StrategyCommand(strategy.name, command, asked, tuple(events)))
                    for caused in events:
                        alerts += self.rules.on_event(caused)
                    if events:
                        self._consult(list(events), ts, depth + 1, applied, alerts, errors)

    # -- what the shells may read --------------------------------------------------------------

    def accounts(self) -> list[str]:
        return list(self.engine.desks)

    def has_account(self, name: str) -> bool:
        return name in self.engine.desks

    def account(self, name: str) -> Account:
        """The account's ledger, to read (its figures, settings and instruments)."""
        return self.engine.desks[name].account

    def figures(self, name: str) -> AccountFigures:
        return account_figures(self.engine.desks[name].account)

    def position(
        self, name: str, symbol: str, slot: PositionSlot = PositionSlot.BOTH
    ) -> Position | None:
        return self.engine.desks[name].account.position(symbol, slot)

    def order(self, name: str, order_id: str) -> Order | None:
        return self.engine.desks[name].orders.get(order_id)

    def open_orders(self, name: str) -> list[tuple[Order, str]]:
        """The account's open and untriggered orders, each with its role (entry, stop_loss, …)."""
        desk = self.engine.desks[name]
        return [
            (o, desk.roles[o.id])
            for o in desk.orders.values()
            if o.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
        ]

    def prices(self, venue: str, symbol: str) -> SymbolPrices | None:
        """The symbol's latest prices on the venue; None before any."""
        return self.engine.prices.symbols.get((venue, symbol))

    def all_prices(self) -> dict[tuple[str, str], SymbolPrices]:
        return self.engine.prices.symbols

    def reads(self, item: object) -> bool:
        """Whether a step would change anything with this input (the rest need no journal)."""
        return self.engine.reads(item)


def _ts(item: object) -> int:
    """The input's own time, given to the commands strategies derive from it (never a clock)."""
    ts = getattr(item, "ts_event", None)
    if ts is None:
        ts = getattr(item, "ts", 0)
    return int(ts or 0)
