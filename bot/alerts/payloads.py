"""MQTT payloads: JSON with a schema name and version (docs/schemas/*.schema.json).

Topics: `<prefix>/<account>/alert/<kind>` (QoS 1; alerts without an account use `_`),
`<prefix>/<account>/status` (retained; `offline` is the Last Will), and
`<prefix>/<account>/position/<symbol>` (retained, throttled).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from bot import __version__
from bot.core.alerting.alert import Alert
from bot.core.ledger.figures import PositionFigures
from bot.core.values import fmt

ALERT_SCHEMA = "marginbot.alert/1"
STATUS_SCHEMA = "marginbot.status/1"
POSITION_SCHEMA = "marginbot.position/1"


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds")


def alert_topic(prefix: str, alert: Alert) -> str:
    return f"{prefix}/{alert.account or '_'}/alert/{alert.kind}"


def alert_payload(
    alert: Alert, local_ns: int | None = None, alert_id: str | None = None
) -> dict[str, Any]:
    local = local_ns if local_ns is not None else time.time_ns()
    return {
        "schema": ALERT_SCHEMA,
        "id": alert_id or str(uuid.uuid4()),
        "kind": alert.kind,
        "severity": alert.severity.value,
        "account": alert.account,
        "symbol": alert.symbol,
        "message": alert.message,
        "exchange_time": iso(alert.ts_event) if alert.ts_event else None,
        "local_time": iso(local),
        "ts_event": alert.ts_event,
        "ts_local": local,
        "details": dict(alert.details),
    }


def status_payload(state: str, started_ns: int, accounts: list[str]) -> dict[str, Any]:
    return {
        "schema": STATUS_SCHEMA,
        "state": state,
        "version": __version__,
        "started_at": iso(started_ns),
        "accounts": accounts,
        "local_time": iso(time.time_ns()),
    }


def offline_payload(started_ns: int, accounts: list[str], at_ns: int | None = None) -> bytes:
    """`offline`, said by the daemon as it stops (with the time) or by the broker as the Last
    Will when the connection dies (no time can be known in advance; the run it ends is named by
    its start)."""
    document: dict[str, Any] = {
        "schema": STATUS_SCHEMA,
        "state": "offline",
        "version": __version__,
        "started_at": iso(started_ns),
        "accounts": accounts,
    }
    if at_ns is not None:
        document["local_time"] = iso(at_ns)
    return orjson.dumps(document)


def position_payload(account: str, p: PositionFigures, last: Any) -> dict[str, Any]:
    def opt(value: Any) -> str | None:
        return None if value is None else fmt(value)

    return {
        "schema": POSITION_SCHEMA,
        "state": "open",
        "account": account,
        "symbol": p.symbol,
        "side": p.side.value,
        "qty": fmt(p.qty),
        "entry_price": fmt(p.entry_price),
        "margin_mode": p.margin_mode.value,
        "mark_price": fmt(p.mark_price),
        "last_price": opt(last),
        "liquidation_price": opt(p.liquidation_price),
        "margin_ratio": opt(p.margin_ratio),
        "unrealized_pnl": fmt(p.unrealized_pnl),
        "local_time": iso(time.time_ns()),
    }


def closed_position_payload(
    account: str, symbol: str, mark: Decimal, last: Decimal | None
) -> dict[str, Any]:
    """The retained state of a position that is gone (closed or liquidated): a subscriber that
    arrives later must not see it still open."""
    return {
        "schema": POSITION_SCHEMA,
        "state": "closed",
        "account": account,
        "symbol": symbol,
        "side": None,
        "qty": "0",
        "entry_price": None,
        "margin_mode": None,
        "mark_price": fmt(mark),
        "last_price": None if last is None else fmt(last),
        "liquidation_price": None,
        "margin_ratio": None,
        "unrealized_pnl": "0",
        "local_time": iso(time.time_ns()),
    }
