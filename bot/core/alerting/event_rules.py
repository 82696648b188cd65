"""One alert per engine or feed event worth telling the trader: a liquidation, a stop-loss or
take-profit triggered and filled, an order refused, funding paid or received past a threshold,
a feed gone stale and back. Pure functions of the event (and the settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.alerting.alert import Alert, Severity
from bot.core.alerting.settings import RuleBook
from bot.core.engine_events import (
    FundingSettled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PositionLiquidated,
    PositionPartiallyLiquidated,
)
from bot.core.feed_events import FeedRecovered, FeedStale
from bot.core.values import fmt

NS = 1_000_000_000


def _liquidated(event: PositionLiquidated, _book: RuleBook) -> list[Alert]:
    liquidation = event.liquidation
    gone = ", ".join(f"{p.side} {fmt(p.qty)} {p.symbol}" for p in liquidation.positions)
    first = liquidation.positions[0]
    return [
        Alert(
            "liquidated",
            Severity.CRITICAL,
            event.ts,
            event.account,
            first.symbol,
            f"{liquidation.margin_mode} liquidation of {gone} at mark "
            f"{fmt(first.mark_price)}: lost {fmt(liquidation.loss)}",
            (
                ("margin_mode", liquidation.margin_mode.value),
                ("mark_price", fmt(first.mark_price)),
                ("last_price", fmt(event.last_price) if event.last_price else None),
                (
                    "liquidation_price",
                    fmt(first.liquidation_price) if first.liquidation_price else None,
                ),
                (
                    "bankruptcy_price",
                    fmt(first.bankruptcy_price) if first.bankruptcy_price else None,
                ),
                ("loss", fmt(liquidation.loss)),
                ("clearance_fee", fmt(liquidation.clearance_fee)),
                ("positions", str(len(liquidation.positions))),
            ),
        )
    ]


def _partially_liquidated(event: PositionPartiallyLiquidated, _book: RuleBook) -> list[Alert]:
    step = event.step
    return [
        Alert(
            "partial_liquidation",
            Severity.CRITICAL,
            event.ts,
            event.account,
            step.symbol,
            f"{step.margin_mode} {step.side} {step.symbol} partially liquidated at mark "
            f"{fmt(step.price)}: cut from {fmt(step.qty_before)} to {fmt(step.qty_after)}, "
            f"tier {step.tier_before} to {step.tier_after}",
            (
                ("margin_mode", step.margin_mode.value),
                ("mark_price", fmt(step.price)),
                ("last_price", fmt(event.last_price) if event.last_price else None),
                ("qty_before", fmt(step.qty_before)),
                ("qty_closed", fmt(step.qty_closed)),
                ("qty_after", fmt(step.qty_after)),
                ("tier_before", str(step.tier_before)),
                ("tier_after", str(step.tier_after)),
                ("realized_pnl", fmt(step.realized_pnl)),
                ("fee", fmt(step.fee)),
            ),
        )
    ]


def _triggered(event: OrderTriggered, _book: RuleBook) -> list[Alert]:
    if event.role not in ("stop_loss", "take_profit"):
        return []
    severity = Severity.WARNING if event.role == "stop_loss" else Severity.INFO
    return [
        Alert(
            f"{event.role}_triggered",
            severity,
            event.ts,
            event.account,
            event.symbol,
            f"{event.role.replace('_', '-')} on {event.symbol} triggered: "
            f"{event.source} {fmt(event.source_price)} reached {fmt(event.trigger_price)}",
            (
                ("source", event.source.value),
                ("trigger_price", fmt(event.trigger_price)),
                ("source_price", fmt(event.source_price)),
                ("order_id", event.order_id),
            ),
        )
    ]


def _filled(event: OrderFilled, _book: RuleBook) -> list[Alert]:
    if event.role not in ("stop_loss", "take_profit"):
        return []
    fill = event.fill
    return [
        Alert(
            f"{event.role}_filled",
            Severity.INFO,
            event.ts,
            event.account,
            fill.symbol,
            f"{event.role.replace('_', '-')} on {fill.symbol} filled {fmt(fill.qty)} at "
            f"{fmt(fill.price)}, realized {fmt(fill.realized_pnl)}",
            (
                ("price", fmt(fill.price)),
                ("qty", fmt(fill.qty)),
                ("realized_pnl", fmt(fill.realized_pnl)),
                ("fee", fmt(fill.fee)),
                ("order_id", event.order_id),
            ),
        )
    ]


def _rejected(event: OrderRejected, _book: RuleBook) -> list[Alert]:
    return [
        Alert(
            "order_rejected",
            Severity.WARNING,
            event.ts,
            event.account,
            event.symbol,
            event.reason,
            (("code", event.code), ("client_id", event.client_id)),
        )
    ]


def _funding(event: FundingSettled, book: RuleBook) -> list[Alert]:
    paid = event.funding
    if abs(paid.amount) < book.for_(event.account, paid.symbol).funding_threshold:
        return []
    kind = "funding_paid" if paid.amount < 0 else "funding_received"
    return [
        Alert(
            kind,
            Severity.INFO,
            event.ts,
            event.account,
            paid.symbol,
            f"{paid.symbol} funding at rate {fmt(paid.funding_rate)}: {fmt(paid.amount)}",
            (
                ("amount", fmt(paid.amount)),
                ("funding_rate", fmt(paid.funding_rate)),
                ("mark_price", fmt(paid.mark_price)),
            ),
        )
    ]


def feed_stream(conn: str) -> str:
    """`binance.market.3` -> `binance.market`: the stream a connection served, whatever its
    number (`bybit.2` -> `bybit`)."""
    stream, _, number = conn.rpartition(".")
    return stream if stream and number.isdigit() else conn


def _feed(event: FeedStale | FeedRecovered, _book: RuleBook) -> list[Alert]:
    stale = isinstance(event, FeedStale)
    seconds = event.silent_s if isinstance(event, FeedStale) else event.outage_s
    return [
        Alert(
            "feed_stale" if stale else "feed_recovered",
            Severity.WARNING if stale else Severity.INFO,
            event.ts,
            None,
            None,
            f"{feed_stream(event.conn)} feed {'silent for' if stale else 'back after'} "
            f"{seconds:.1f} s",
            (
                ("venue", event.venue),
                ("stream", feed_stream(event.conn)),
                ("seconds", f"{seconds:.3f}"),
            ),
        )
    ]


EVENT_RULES: dict[type, Callable[[Any, RuleBook], list[Alert]]] = {
    PositionLiquidated: _liquidated,
    PositionPartiallyLiquidated: _partially_liquidated,
    OrderTriggered: _triggered,
    OrderFilled: _filled,
    OrderRejected: _rejected,
    FundingSettled: _funding,
    FeedStale: _feed,
    FeedRecovered: _feed,
}


def event_alert(event: Any, book: RuleBook) -> list[Alert]:
    """Alerts that follow one engine or feed event each."""
    rule = EVENT_RULES.get(type(event))
    return rule(event, book) if rule is not None else []
