"""The alert rules' settings: thresholds by default, overridden by account and symbol
(`[alerts]` and `[[alerts.overrides]]` in docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class RuleSettings:
    near_liquidation: Decimal = Decimal("0.05")  # within 5 % of the liquidation price
    divergence: Decimal = Decimal("0.003")  # mark and last 0.3 % apart
    margin_ratio_levels: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.8"), Decimal("0.9"))
    hysteresis: Decimal = Decimal("0.2")  # clear by 20 % of the threshold to re-arm
    cooldown_s: int = 60
    funding_threshold: Decimal = Decimal(1)  # settlement currency


@dataclass(frozen=True)
class RuleBook:
    """Settings by (account, symbol); the most specific wins, `None` matches any."""

    default: RuleSettings = RuleSettings()
    overrides: Mapping[tuple[str | None, str | None], RuleSettings] = field(default_factory=dict)

    def for_(self, account: str, symbol: str | None) -> RuleSettings:
        for key in ((account, symbol), (account, None), (None, symbol)):
            if key in self.overrides:
                return self.overrides[key]
        return self.default
