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
) -> list[Drift]:
    """Drifts between local figures and ccxt's `fetch_positions` / `fetch_balance` answers."""
    drifts: list[Drift] = []
    remote: dict[str, Mapping[str, Any]] = {}
    for p in positions:
        contracts = _decimal(p.get("contracts")) or ZERO
        if contracts:
            remote[str((p.get("info") or {}).get("symbol") or p.get("symbol"))] = p
    mine = {f.symbol: f for f in local.positions}
    for symbol in sorted(set(remote) | set(mine)):
        theirs, ours = remote.get(symbol), mine.get(symbol)
        ours_size = (ours.qty if ours.side is Side.LONG else -ours.qty) if ours else ZERO
        theirs_size = ZERO
        if theirs is not None:
            theirs_size = _decimal(theirs.get("contracts")) or ZERO
            if theirs.get("side") == "short":
                theirs_size = -theirs_size
        if ours_size != theirs_size:
            drifts.append(Drift(account, symbol, "position size", fmt(ours_size), fmt(theirs_size)))
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
    total = _decimal((balance.get(settle) or {}).get("total"))
    local_total = local.wallet_balance + local.isolated_margin
    if total is not None and abs(total - local_total) > tolerance.balance:
        drifts.append(
            Drift(account, None, f"{settle} wallet balance", fmt(local_total), fmt(total))
        )
    return drifts
