"""One line for the terminal about each event a trader wants to see as it happens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.engine_events import (
    CommandRefused,
    FundingSettled,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PositionLiquidated,
    PositionPartiallyLiquidated,
)
from bot.core.values import approx, fmt
from bot.testnet.events import MirrorFailed, OrderMirrored, ReconciliationDrift


def _filled(event: OrderFilled) -> str:
    f = event.fill
    pnl = f" pnl {fmt(f.realized_pnl)}" if f.realized_pnl else ""
    return (
        f"[{event.account}] filled {event.role} {f.side} {fmt(f.qty)} {f.symbol} at "
        f"{fmt(f.price)} fee {fmt(f.fee)}{pnl} → wallet {fmt(f.wallet_balance)}"
    )


def _triggered(event: OrderTriggered) -> str:
    return (
        f"[{event.account}] {event.role} triggered: {event.source} "
        f"{fmt(event.source_price)} crossed {fmt(event.trigger_price)}"
    )


def _partially_liquidated(event: PositionPartiallyLiquidated) -> str:
    step = event.step
    return (
        f"[{event.account}] PARTIALLY LIQUIDATED {step.margin_mode}: {step.side} "
        f"{step.symbol} cut from {fmt(step.qty_before)} to {fmt(step.qty_after)} at mark "
        f"{fmt(step.price)} (tier {step.tier_before} -> {step.tier_after}); realized "
        f"{fmt(step.realized_pnl)}, fee {fmt(step.fee)}"
    )


def _liquidated(event: PositionLiquidated) -> str:
    liquidation = event.liquidation
    gone = ", ".join(
        f"{p.side} {fmt(p.qty)} {p.symbol} (mark {fmt(p.mark_price)}, liq "
        f"{approx(p.liquidation_price) if p.liquidation_price else '--'})"
        for p in liquidation.positions
    )
    last = fmt(event.last_price) if event.last_price is not None else "--"
    return (
        f"[{event.account}] LIQUIDATED {liquidation.margin_mode}: {gone}; last {last}; "
        f"lost {fmt(liquidation.loss)}, wallet now {fmt(liquidation.wallet_balance_after)}"
    )


def _refused(event: OrderRejected | CommandRefused) -> str:
    return f"[{event.account}] refused: {event.reason}"


def _canceled(event: OrderCanceled) -> str:
    return f"[{event.account}] canceled {event.order_id}: {event.reason}"


def _funding(event: FundingSettled) -> str:
    paid = event.funding
    return (
        f"[{event.account}] funding {paid.symbol} rate {fmt(paid.funding_rate)}: {fmt(paid.amount)}"
    )


def _mirrored(event: OrderMirrored) -> str:
    return (
        f"[{event.account}] testnet: {event.order_id} is venue order "
        f"{event.venue_order_id} ({event.venue_status})"
    )


def _mirror_failed(event: MirrorFailed) -> str:
    return f"[{event.account}] testnet refused {event.order_id}: {event.reason}"


def _drift(event: ReconciliationDrift) -> str:
    return f"DRIFT {event.drift.describe()}"


_DESCRIBE: dict[type, Callable[[Any], str]] = {
    OrderMirrored: _mirrored,
    MirrorFailed: _mirror_failed,
    ReconciliationDrift: _drift,
    OrderFilled: _filled,
    OrderTriggered: _triggered,
    PositionLiquidated: _liquidated,
    PositionPartiallyLiquidated: _partially_liquidated,
    OrderRejected: _refused,
    CommandRefused: _refused,
    OrderCanceled: _canceled,
    FundingSettled: _funding,
}


def describe(event: object) -> str | None:
    """One line for the terminal about the events a trader wants to see as they happen."""
    formatter = _DESCRIBE.get(type(event))
    return formatter(event) if formatter is not None else None
