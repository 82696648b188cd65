"""The strategy hook: automate trading without touching the core.

A strategy is any object with `on_event(event, view) -> list of commands`. It is called with
every market event and every engine event, and returns commands in the same schema the CLI and
MQTT use (`bot.control.codec`). The kernel (bot/core/kernel.py) applies them within the step
of the event that caused them, so a live run and a replay with the same configuration make the
same trades, with the same alert ids. The daemon journals each command (a recovery re-applies
it without running the strategy) and records it in the session marked `"by": "strategy"`: a
replay that runs the configuration's strategies skips those records, one without strategies
applies them as trader commands.

    [[strategies]]
    file = "examples/breakout.py"   # or module = "mypackage.strategies"
    class = "Breakout"
    account = "isolated"
    params = { lookback = 20, qty = "0.01" }
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from bot.control.codec import CommandJson, QueryJson
from bot.core.commands import Command
from bot.core.kernel import Kernel
from bot.core.ledger.account import Position
from bot.core.values import PositionSlot
from bot.errors import ConfigError, MarginbotError


@dataclass(frozen=True)
class MarketView:
    """What a strategy may read: prices and its own account's positions. Read-only."""

    kernel: Kernel
    account: str

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        prices = self.kernel.prices(venue, symbol)
        return prices.mark if prices is not None else None

    def last(self, venue: str, symbol: str) -> Decimal | None:
        prices = self.kernel.prices(venue, symbol)
        return prices.last if prices is not None else None

    def position(self, symbol: str, slot: PositionSlot = PositionSlot.BOTH) -> Position | None:
        return self.kernel.position(self.account, symbol, slot)

    def open_orders(self, symbol: str) -> int:
        return self.kernel.account(self.account).open_order_count(symbol)


class Strategy(Protocol):
    def on_event(self, event: object, view: MarketView) -> list[CommandJson]: ...


@dataclass
class StrategyRunner:
    """A user's strategy as the kernel consults it: its JSON-schema commands become core
    commands, stamped with the time of the event that caused them."""

    name: str
    strategy: Strategy
    account: str

    def decide(self, event: object, ts: int, kernel: Kernel) -> list[tuple[Command, Any]]:
        commands = []
        for asked in self.strategy.on_event(event, MarketView(kernel, self.account)):
            if isinstance(asked, QueryJson):
                continue
            if not kernel.has_account(asked.account):
                raise MarginbotError(f"no account named {asked.account!r}")
            commands.append((asked.command(ts), asked))
        return commands


def load_strategy(
    file: str | None, module: str | None, name: str, params: Mapping[str, Any]
) -> Strategy:
    """Instantiate `name` from a Python file or an importable module, with `params`."""
    if (file is None) == (module is None):
        raise ConfigError("a strategy needs exactly one of 'file' or 'module'")
    try:
        if file is not None:
            path = Path(file)
            spec = importlib.util.spec_from_file_location(f"marginbot_strategy_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"strategy file {file} cannot be loaded")
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
        else:
            assert module is not None
            loaded = importlib.import_module(module)
        factory = getattr(loaded, name)
    except (OSError, ImportError, AttributeError) as exc:
        raise ConfigError(f"strategy {name} from {file or module}: {exc}") from None
    try:
        strategy = factory(**params)
    except TypeError as exc:
        raise ConfigError(f"strategy {name}: bad params: {exc}") from None
    if not callable(getattr(strategy, "on_event", None)):
        raise ConfigError(f"strategy {name} has no on_event(event, view) method")
    return strategy  # type: ignore[no-any-return]
