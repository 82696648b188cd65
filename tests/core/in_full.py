"""The engine and the alert rules without their shortcuts (bot/core/speed, the quiet memos):
every tick worked out in full. The differential tests compare them with the real ones, which
must give the same outputs."""

from __future__ import annotations

from typing import Any

from bot.core.alerting.price_rules import AlertRules
from bot.core.engine import Engine


class EngineInFull(Engine):
    """Learns no quiet band: every mark and last price goes through the triggers, the
    liquidation check and funding."""

    def _learn_mark_band(self, *_args: Any) -> None:
        return None

    def _learn_last_band(self, *_args: Any) -> None:
        return None


class RulesInFull(AlertRules):
    """Remembers no quiet evaluation and no calm band: every holder evaluated at every tick."""

    def _quiet_state(self, *_args: Any) -> None:
        return None

    def _holder_band(self, *_args: Any) -> None:
        return None


def engine_class(shortcuts: bool) -> type[Engine]:
    return Engine if shortcuts else EngineInFull


def rules_class(shortcuts: bool) -> type[AlertRules]:
    return AlertRules if shortcuts else RulesInFull
