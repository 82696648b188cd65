"""The account as a trader sees it at the current mark prices.

Margin ratio = maintenance margin / margin balance (100 % is liquidation), as Binance shows it in
the futures account panel and Bybit as `accountMMRate`. It is None when the margin balance is zero
or negative: the position is past liquidation and a ratio means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.ledger.account import Account, Position
from bot.core.ledger.liquidation import bankruptcy_price, liquidation_price
from bot.core.values import ZERO, MarginMode, PositionSlot, Side, div


@dataclass(frozen=True, slots=True)
class PositionFigures:
    symbol: str
    slot: PositionSlot
    side: Side
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    margin_mode: MarginMode
    leverage: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal  # with the fee to close where the venue's includes it
    close_fee: Decimal  # the estimated fee to close in the requirement (OKX, Bybit Unified)
    isolated_margin: Decimal
    margin_balance: Decimal  # isolated: its own; cross: the account's cross margin balance
    margin_ratio: Decimal | None
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None


@dataclass(frozen=True, slots=True)
class AccountFigures:
    wallet_balance: Decimal  # cross wallet, without isolated margins
    isolated_margin: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal  # wallet + isolated margins + every unrealized PnL
    maintenance_margin: Decimal
    margin_ratio: Decimal | None  # maintenance_margin / margin_balance, the account-wide view
    cross_margin_balance: Decimal  # cross wallet + cross unrealized PnL
    cross_maintenance_margin: Decimal
    cross_margin_ratio: Decimal | None  # reaching 1 liquidates every cross position (0: none)
    available_balance: Decimal
    positions: tuple[PositionFigures, ...]


def ratio(maintenance: Decimal, balance: Decimal) -> Decimal | None:
    return div(maintenance, balance) if balance > ZERO else None


def _position_figures(
    account: Account, position: Position, cross_balance: Decimal, cross_ratio: Decimal | None
) -> PositionFigures:
    mark = account.mark(position.symbol, position.entry_price)
    upnl = position.unrealized_pnl(mark)
    maintenance = account.maintenance_margin(position)
    if position.margin_mode is MarginMode.ISOLATED:
        balance = position.isolated_margin + upnl
        margin_ratio = ratio(maintenance, balance)
    else:
        balance, margin_ratio = cross_balance, cross_ratio
    return PositionFigures(
        symbol=position.symbol,
        slot=position.slot,
        side=position.side,
        qty=position.qty,
        entry_price=position.entry_price,
        mark_price=mark,
        margin_mode=position.margin_mode,
        leverage=position.leverage,
        notional=position.qty * mark,
        unrealized_pnl=upnl,
        initial_margin=account.initial_margin(position),
        maintenance_margin=maintenance,
        close_fee=account.formulas.close_fee(account.leg(position), mark),
        isolated_margin=position.isolated_margin,
        margin_balance=balance,
        margin_ratio=margin_ratio,
        liquidation_price=liquidation_price(account, position),
        bankruptcy_price=bankruptcy_price(account, position),
    )


def account_figures(account: Account) -> AccountFigures:
    cross = account.cross_positions()
    cross_mm, cross_upnl = account.cross_totals()
    cross_balance = account.wallet_balance + cross_upnl
    cross_ratio = ratio(cross_mm, cross_balance) if cross else ZERO
    positions = tuple(
        _position_figures(account, p, cross_balance, cross_ratio) for p in account.positions()
    )
    isolated = sum((p.isolated_margin for p in positions), ZERO)
    upnl = sum((p.unrealized_pnl for p in positions), ZERO)
    balance = account.wallet_balance + isolated + upnl
    maintenance = sum((p.maintenance_margin for p in positions), ZERO)
    return AccountFigures(
        wallet_balance=account.wallet_balance,
        isolated_margin=isolated,
        unrealized_pnl=upnl,
        margin_balance=balance,
        maintenance_margin=maintenance,
        margin_ratio=ratio(maintenance, balance),
        cross_margin_balance=cross_balance,
        cross_maintenance_margin=cross_mm,
        cross_margin_ratio=cross_ratio,
        available_balance=account.available_balance(),
        positions=positions,
    )
