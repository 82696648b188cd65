"""The strategy hook: automate trading without touching the core.

A strategy is any object with `on_event(event, view) -> list of commands`. It is called with
every market event and every engine event of the daemon, and returns commands in the same
schema the CLI and MQTT use (`bot.control.codec`). The daemon records each command in the
session before applying it, so a replay reproduces the strategy's trades without running it.

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

from bot.control.codec import CommandJson
from bot.core.engine import Engine
from bot.core.ledger import Position
from bot.core.values import PositionSlot
from bot.errors import ConfigError


@dataclass(frozen=True)
class MarketView:
    """What a strategy may read: prices and its own account's positions. Read-only."""

    engine: Engine
    account: str

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self.engine.prices.get(venue, symbol).mark

    def last(self, venue: str, symbol: str) -> Decimal | None:
        return self.engine.prices.get(venue, symbol).last

    def position(self, symbol: str, slot: PositionSlot = PositionSlot.BOTH) -> Position | None:
        return self.engine.desks[self.account].account.position(symbol, slot)

    def open_orders(self, symbol: str) -> int:
        return self.engine.desks[self.account].account.open_order_count(symbol)


class Strategy(Protocol):
    def on_event(self, event: object, view: MarketView) -> list[CommandJson]: ...


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
