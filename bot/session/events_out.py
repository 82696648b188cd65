"""Output events as JSON Lines: stable keys, decimal strings, no wall-clock time."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec
import orjson

from bot.core.values import fmt

EVENT_NAMES = {
    "MarkPrice": "mark_price",
    "Trade": "trade",
    "LastPrice": "last_price",
    "NonMarketTrade": "non_market_trade",
    "BookTop": "book_top",
    "MarketLiquidation": "market_liquidation",
    "FundingRate": "funding_rate",
    "OrderAccepted": "order_accepted",
    "OrderRejected": "order_rejected",
    "OrderTriggered": "order_triggered",
    "OrderFilled": "order_filled",
    "OrderCanceled": "order_canceled",
    "PositionLiquidated": "position_liquidated",
    "PositionPartiallyLiquidated": "position_partially_liquidated",
    "FundingSettled": "funding_settled",
    "SettingChanged": "setting_changed",
    "CommandRefused": "command_refused",
    "OrderMirrored": "order_mirrored",
    "MirrorFailed": "mirror_failed",
    "ReconciliationDrift": "reconciliation_drift",
    "Reconciled": "reconciled",
}


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


_KINDS: dict[type, str] = {}


def kind_of(event_type: type) -> str:
    """The stable snake_case name of an event class (FeedStale → feed_stale)."""
    kind = _KINDS.get(event_type)
    if kind is None:
        name = event_type.__name__
        kind = _KINDS[event_type] = EVENT_NAMES.get(name) or _SNAKE.sub("_", name).lower()
    return kind


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, msgspec.Struct) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return event_json(value)
    return value


def _field_names(event: Any) -> tuple[str, ...]:
    if isinstance(event, msgspec.Struct):
        return event.__struct_fields__
    return tuple(field.name for field in dataclasses.fields(event))


def event_json(event: Any) -> dict[str, Any]:
    name = type(event).__name__
    document: dict[str, Any] = {"type": EVENT_NAMES.get(name, name)}
    for field in _field_names(event):
        document[field] = _value(getattr(event, field))
    return document


def event_line(event: Any) -> bytes:
    return orjson.dumps(event_json(event)) + b"\n"


def alert_json(alert: Any, alert_id: str) -> dict[str, Any]:
    """An alert as the daemon's and replay's `--events-out` write it: the MQTT payload's fields
    without its local (wall-clock) times."""
    return {
        "type": "alert",
        "id": alert_id,
        "kind": alert.kind,
        "severity": alert.severity.value,
        "account": alert.account,
        "symbol": alert.symbol,
        "message": alert.message,
        "ts_event": alert.ts_event,
        "details": dict(alert.details),
    }


def alert_line(alert: Any, alert_id: str) -> bytes:
    return orjson.dumps(alert_json(alert, alert_id)) + b"\n"
