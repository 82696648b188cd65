"""What the testnet mirror and the reconciler report."""

from __future__ import annotations

from dataclasses import dataclass

from bot.testnet.reconcile import Drift


@dataclass(frozen=True, slots=True)
class OrderMirrored:
    ts: int
    account: str
    order_id: str
    venue_order_id: str
    venue_status: str


@dataclass(frozen=True, slots=True)
class MirrorFailed:
    ts: int
    account: str
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReconciliationDrift:
    ts: int
    account: str
    drift: Drift


@dataclass(frozen=True, slots=True)
class Reconciled:
    ts: int
    account: str
    positions: int
