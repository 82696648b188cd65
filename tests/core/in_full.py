"""The engine and the alert rules without their shortcuts (bot/core/speed: the quiet ticks
and the calm rules): every tick worked out in full. The differential tests compare them with
the real ones, which must give the same outputs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.core.alerting.price_rules import AlertRules
from bot.core.alerting.settings import RuleBook
from bot.core.engine import Engine
from bot.core.ledger.account import Account
from bot.core.speed.calm_rules import CalmRules
from bot.core.speed.quiet_ticks import QuietTicks
from bot.core.values import ZERO


class NeverQuiet(QuietTicks):
    """Learns no quiet band: every mark and last price goes through the triggers, the
    liquidation check and funding."""

    def learn_mark_band(self, *_args: Any) -> None:
        return None

    def learn_last_band(self, *_args: Any) -> None:
        return None


class EngineInFull(Engine):
    def __init__(self, accounts: Mapping[str, Account], slippage_bps: Decimal = ZERO) -> None:
        super().__init__(accounts, slippage_bps, quiet=NeverQuiet)


class NeverCalm(CalmRules):
    """Remembers no quiet evaluation and no calm band: every holder evaluated at every tick."""

    def state(self, *_args: Any) -> None:
        return None

    def holder_band(self, *_args: Any) -> None:
        return None


class RulesInFull(AlertRules):
    def __init__(self, engine: Engine, book: RuleBook | None = None) -> None:
        super().__init__(engine, book, calm=NeverCalm)


def engine_class(shortcuts: bool) -> type[Engine]:
    return Engine if shortcuts else EngineInFull


def rules_class(shortcuts: bool) -> type[AlertRules]:
    return AlertRules if shortcuts else RulesInFull
