"""Compare the local ledger with what the exchange reports (pure).

Paper fills and exchange fills happen at slightly different moments, so prices and balances
are compared within a tolerance; a position's size and side must match exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.core.figures import AccountFigures
from bot.core.values import ZERO, Side, fmt


@dataclass(frozen=True, slots=True)
class Tolerance:
    price_fraction: Decimal = Decimal("0.005")  # entry and liquidation prices: 0.5 %
    balance: Decimal = Decimal(1)  # wallet, in the settlement asset


@dataclass(frozen=True, slots=True)
class Drift:
    account: str
    symbol: str | None
    field: str
    local: str
    remote: str

    def describe(self) -> str:
        where = f" {self.symbol}" if self.symbol else ""
        return f"[{self.account}]{where} {self.field}: local {self.local}, exchange {self.remote}"


def _decimal(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))


def compare(
    account: str,
    local: AccountFigures,
    positions: Sequence[Mapping[str, Any]],
    balance: Mapping[str, Any],
    settle: str,
    tolerance: Tolerance,
    leverages: Mapping[str, Decimal] | None = None,
) -> list[Drift]:
    """Drifts between local figures and ccxt's `fetch_positions` / `fetch_balance` answers, and
    `fetch_leverage` answers (venue symbol → leverage) when given."""
    drifts = [
        Drift(account, f.symbol, "leverage", fmt(f.leverage), fmt(theirs))
        for f in local.positions
        if (theirs := (leverages or {}).get(f.symbol)) is not None and theirs != f.leverage
    ]
    drifts += _position_drifts(account, local, positions, tolerance)
    total = _decimal((balance.get(settle) or {}).get("total"))
    local_total = local.wallet_balance + local.isolated_margin
    if total is not None and abs(total - local_total) > tolerance.balance:
        drifts.append(
            Drift(account, None, f"{settle} wallet balance", fmt(local_total), fmt(total))
        )
    return drifts


def _signed_size(position: Mapping[str, Any] | None) -> Decimal:
    if position is None:
        return ZERO
    size = _decimal(position.get("contracts")) or ZERO
    return -size if position.get("side") == "short" else size


def _position_drifts(
    account: str,
    local: AccountFigures,
    positions: Sequence[Mapping[str, Any]],
    tolerance: Tolerance,
) -> list[Drift]:
    remote = {
        str((p.get("info") or {}).get("symbol") or p.get("symbol")): p
        for p in positions
        if _decimal(p.get("contracts"))
    }
    mine = {f.symbol: f for f in local.positions}
    drifts: list[Drift] = []
    for symbol in sorted(set(remote) | set(mine)):
        theirs, ours = remote.get(symbol), mine.get(symbol)
        ours_size = (ours.qty if ours.side is Side.LONG else -ours.qty) if ours else ZERO
        if ours_size != _signed_size(theirs):
            drifts.append(
                Drift(account, symbol, "position size", fmt(ours_size), fmt(_signed_size(theirs)))
            )
            continue
        if ours is None or theirs is None:
            continue
        for field, mine_value, their_value in (
            ("entry price", ours.entry_price, _decimal(theirs.get("entryPrice"))),
            ("liquidation price", ours.liquidation_price, _decimal(theirs.get("liquidationPrice"))),
        ):
            if mine_value is None and their_value is None:
                continue
            if (
                mine_value is None
                or their_value is None
                or abs(mine_value - their_value) > (tolerance.price_fraction * mine_value)
            ):
                drifts.append(
                    Drift(
                        account,
                        symbol,
                        field,
                        fmt(mine_value) if mine_value else "none",
                        fmt(their_value) if their_value else "none",
                    )
                )
    return drifts
