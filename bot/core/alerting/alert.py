"""Alerts: what the rules say to the trader. Immutable, with stable snake_case kinds.

Kinds: mark_last_divergence, liquidation_risk, liquidated, stop_loss_triggered,
stop_loss_filled, take_profit_triggered, take_profit_filled, order_rejected, funding_paid,
funding_received, reconciliation_drift, feed_stale, feed_recovered, daemon_started,
daemon_stopping.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    severity: Severity
    ts_event: int  # the exchange time of the input that raised it (ns)
    account: str | None
    symbol: str | None
    message: str  # one sentence a trader reads on a phone
    details: tuple[tuple[str, str | None], ...] = ()  # decimal strings, in a stable order

    def detail(self, name: str) -> str | None:
        return dict(self.details).get(name)


def pct(value: Decimal | None) -> str | None:
    """A fraction as a percentage string with 4 decimals (0.0123 → "1.2300")."""
    return None if value is None else f"{value * 100:.4f}"
