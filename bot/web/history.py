"""What the page remembers between two looks: a bounded price history per symbol and the
latest alerts, each entry numbered so that a browser asks only for what it has not seen.

Prices are kept one point per exchange second (the last mark and last price within that
second): a chart of hours needs no more, and a busy feed costs a dictionary update per tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.alerts.payloads import iso
from bot.core.alerting.alert import Alert
from bot.session.events_out import alert_json

NS = 1_000_000_000


@dataclass(slots=True)
class PricePoint:
    second: int  # exchange time, whole seconds since the epoch (the chart's time axis)
    mark: float | None  # floats: the chart draws them, the ledger never sees them
    last: float | None
    seq: int  # the history's change counter when this point last changed

    def row(self) -> list[Any]:
        return [self.second, self.mark, self.last]


@dataclass
class History:
    """Bounded: `points` per symbol, `alerts` in all. `seq` grows with every change."""

    points: int = 3600
    alerts: int = 200
    seq: int = 0
    symbols: dict[str, deque[PricePoint]] = field(default_factory=dict)
    alert_log: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)

    def price(self, key: str, ts_event: int, mark: Decimal | None, last: Decimal | None) -> None:
        """The symbol's mark and last after an input of exchange time `ts_event` (ns)."""
        points = self.symbols.get(key)
        if points is None:
            points = self.symbols[key] = deque(maxlen=self.points)
        second = ts_event // NS
        self.seq += 1
        mark_f = float(mark) if mark is not None else None
        last_f = float(last) if last is not None else None
        if points and second <= points[-1].second:
            # The same second, or a venue's clock stepping back: the newest point takes it,
            # as the chart's time axis only moves forward.
            newest = points[-1]
            newest.mark, newest.last, newest.seq = mark_f, last_f, self.seq
            return
        points.append(PricePoint(second, mark_f, last_f, self.seq))

    def alert(self, alert: Alert, alert_id: str) -> None:
        self.seq += 1
        self.alert_log.append((self.seq, alert_row(alert, alert_id)))
        while len(self.alert_log) > self.alerts:
            self.alert_log.popleft()

    def points_since(self, seq: int) -> dict[str, list[list[Any]]]:
        """Every point that changed after `seq`, oldest first, by symbol."""
        changed: dict[str, list[list[Any]]] = {}
        for key, points in self.symbols.items():
            rows: list[list[Any]] = []
            for point in reversed(points):
                if point.seq <= seq:
                    break  # only the newest point ever changes, so older ones are older still
                rows.append(point.row())
            if rows:
                rows.reverse()
                changed[key] = rows
        return changed

    def alerts_since(self, seq: int) -> list[dict[str, Any]]:
        return [row for number, row in self.alert_log if number > seq]


def alert_row(alert: Alert, alert_id: str) -> dict[str, Any]:
    """The alert as `--events-out` writes it, with the times the page shows and charts."""
    return {
        **alert_json(alert, alert_id),
        "time": iso(alert.ts_event) if alert.ts_event else None,
        "second": alert.ts_event // NS if alert.ts_event else None,
    }
