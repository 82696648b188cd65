"""Compare the local ledger with what the exchange reports (pure).

Paper fills and exchange fills happen at slightly different moments, so prices and balances
are compared within a tolerance; a position's size and side must match exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.core.ledger.figures import AccountFigures
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
    wallet: Decimal | None,
    settle: str,
    tolerance: Tolerance,
    leverages: Mapping[str, Decimal] | None = None,
    market_ids: Mapping[str, str] | None = None,
) -> list[Drift]:
    """Drifts between local figures and ccxt's `fetch_positions` answers, the venue's wallet
    balance (`venue_wallet`: the wallet, never the margin balance, which moves with every
    mark), and `fetch_leverage` answers (venue market id → leverage) when given.

    Positions are matched by the venue's market id: `market_ids` maps ccxt's unified symbols
    (`BTC/USDT:USDT`) to it (`BTCUSDT`), as the local ledger names them.
    """
    drifts = [
        Drift(account, f.symbol, "leverage", fmt(f.leverage), fmt(theirs))
        for f in local.positions
        if (theirs := (leverages or {}).get(f.symbol)) is not None and theirs != f.leverage
    ]
    drifts += _position_drifts(account, local, positions, tolerance, market_ids or {})
    local_wallet = local.wallet_balance + local.isolated_margin
    if wallet is not None and abs(wallet - local_wallet) > tolerance.balance:
        drifts.append(
            Drift(account, None, f"{settle} wallet balance", fmt(local_wallet), fmt(wallet))
        )
    return drifts


def venue_wallet(venue: str, balance: Mapping[str, Any], settle: str) -> Decimal | None:
    """The wallet balance of `settle` in a ccxt `fetch_balance` answer.

    Binance: ccxt 4.5.90 gives the margin balance (wallet + unrealized PnL) as `total`
    (`parse_balance_custom`), so the wallet is read from the raw answer, `assets[].walletBalance`
    (GET /fapi/v3/account), which includes isolated wallets as our ledger's sum does. Bybit:
    `total` is the coin's `walletBalance` (GET /v5/account/wallet-balance). OKX: `total` is the
    currency's equity (`eq`, `parse_trading_balance`), so the wallet is read from the raw
    answer, `data[0].details[].cashBal` (GET /api/v5/account/balance), isolated margins
    included.
    """
    if venue == "okx":
        data = (balance.get("info") or {}).get("data") or []
        first = data[0] if data and isinstance(data[0], Mapping) else {}
        details = first.get("details") or []
        row = next((d for d in details if isinstance(d, Mapping) and d.get("ccy") == settle), None)
        return _decimal(row.get("cashBal")) if row is not None else None
    if venue == "binance":
        assets = (balance.get("info") or {}).get("assets") or []
        row = next((a for a in assets if isinstance(a, Mapping) and a.get("asset") == settle), None)
        return _decimal(row.get("walletBalance")) if row is not None else None
    return _decimal((balance.get(settle) or {}).get("total"))


def _signed_size(position: Mapping[str, Any] | None) -> Decimal:
    """In base units: ccxt's `contracts` × `contractSize` (1 on Binance and Bybit, `ctVal` on
    OKX)."""
    if position is None:
        return ZERO
    size = (_decimal(position.get("contracts")) or ZERO) * (
        _decimal(position.get("contractSize")) or Decimal(1)
    )
    size = size.normalize() if size else ZERO
    return -size if position.get("side") == "short" else size


def _market_id(position: Mapping[str, Any], market_ids: Mapping[str, str]) -> str:
    unified = str(position.get("symbol"))
    return market_ids.get(unified) or str((position.get("info") or {}).get("symbol") or unified)


def _position_drifts(
    account: str,
    local: AccountFigures,
    positions: Sequence[Mapping[str, Any]],
    tolerance: Tolerance,
    market_ids: Mapping[str, str],
) -> list[Drift]:
    remote = {_market_id(p, market_ids): p for p in positions if _decimal(p.get("contracts"))}
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
            if their_value is None and field == "liquidation price":
                continue  # not reported (Bybit unified cross rows send ""): nothing to compare
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
