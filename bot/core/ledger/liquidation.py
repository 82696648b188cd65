"""Which positions the exchange would liquidate at the current marks, and what that does.

Predicate (both venues): an isolated position is liquidated when its margin balance (isolated
margin + unrealized PnL at mark) is at or below its maintenance margin; the cross positions go
together when the cross margin balance (cross wallet + cross unrealized PnL) is at or below the
total cross maintenance margin.

Effect: the exchange closes the position at its bankruptcy price. Binance's liquidation
protocol: "the user's position will be closed at the bankruptcy price and the Insurance Fund will
take over the position ... If an account becomes bankrupt (negative wallet balance), the
Insurance Fund will balance the account back to 0" (Binance FAQ "Liquidation Protocol"). So the
trader loses the whole isolated margin, or the whole cross wallet; the margin left at the mark
price pays the liquidation clearance fee and the rest goes to the insurance fund. We model the
final, full liquidation; Binance's partial reduction of large positions in steps is not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, Inexact

from bot.core.events import LiquidatedPosition, Liquidation
from bot.core.ledger.account import Account, Position
from bot.core.ledger.cross_totals import minus_exact
from bot.core.ledger.margin import LiquidationInputs
from bot.core.values import ZERO, MarginMode, money


def liquidation_inputs(account: Account, position: Position) -> LiquidationInputs:
    """The inputs of the liquidation price the position shares with its group."""
    mark = account.mark(position.symbol, position.entry_price)
    if position.margin_mode is MarginMode.ISOLATED:
        return LiquidationInputs(
            legs=(account.leg(position),),
            mark_price=mark,
            wallet_balance=position.isolated_margin,
        )
    group = [p for p in account.positions_of(position.symbol) if p.margin_mode is MarginMode.CROSS]
    other_mm, other_upnl = _others(account, position.symbol)
    return LiquidationInputs(
        legs=tuple(account.leg(p) for p in group),
        mark_price=mark,
        wallet_balance=account.wallet_balance,
        other_maintenance_margin=other_mm,
        other_unrealized_pnl=other_upnl,
    )


def _others(account: Account, symbol: str) -> tuple[Decimal, Decimal]:
    """Maintenance margin and unrealized PnL of the cross positions on other symbols: the
    account's totals less the symbol's share, exactly (a fresh sum when it cannot be)."""
    total_mm, total_upnl = account.cross_totals()
    own_mm, own_upnl = account.cross_share(symbol)
    try:
        return minus_exact(total_mm, own_mm), minus_exact(total_upnl, own_upnl)
    except Inexact:
        others = [p for p in account.cross_positions() if p.symbol != symbol]
        return (
            sum((account.maintenance_margin(p) for p in others), ZERO),
            sum((p.unrealized_pnl(account.mark(p.symbol, p.entry_price)) for p in others), ZERO),
        )


def liquidation_price(account: Account, position: Position) -> Decimal | None:
    return account.formulas.liquidation_price(liquidation_inputs(account, position))


def bankruptcy_price(account: Account, position: Position) -> Decimal | None:
    return account.formulas.bankruptcy_price(liquidation_inputs(account, position))


@dataclass(frozen=True, slots=True)
class LiquidationTarget:
    """Positions that are liquidated together: one isolated position, or all cross positions."""

    margin_mode: MarginMode
    positions: tuple[Position, ...]


def isolated_is_liquidatable(account: Account, position: Position) -> bool:
    mark = account.mark(position.symbol, position.entry_price)
    margin_balance = position.isolated_margin + position.unrealized_pnl(mark)
    return margin_balance <= account.maintenance_margin(position)


def cross_is_liquidatable(account: Account) -> bool:
    if not account.has_cross_positions():
        return False
    maintenance, unrealized = account.cross_totals()
    return account.wallet_balance + unrealized <= maintenance


def liquidatable(
    account: Account, isolated: Iterable[Position] | None = None
) -> list[LiquidationTarget]:
    """Everything the exchange would liquidate at the account's current mark prices; with
    `isolated`, only those isolated positions are looked at (the others are known safe)."""
    candidates = account.positions() if isolated is None else isolated
    targets = [
        LiquidationTarget(MarginMode.ISOLATED, (p,))
        for p in candidates
        if p.margin_mode is MarginMode.ISOLATED and isolated_is_liquidatable(account, p)
    ]
    if cross_is_liquidatable(account):
        targets.append(LiquidationTarget(MarginMode.CROSS, tuple(account.cross_positions())))
    return targets


def _describe(account: Account, position: Position) -> LiquidatedPosition:
    mark = account.mark(position.symbol, position.entry_price)
    return LiquidatedPosition(
        symbol=position.symbol,
        slot=position.slot,
        side=position.side,
        qty=position.qty,
        entry_price=position.entry_price,
        mark_price=mark,
        liquidation_price=liquidation_price(account, position),
        bankruptcy_price=bankruptcy_price(account, position),
        margin_mode=position.margin_mode,
        pnl_at_mark=money(position.unrealized_pnl(mark)),
    )


def liquidate(account: Account, target: LiquidationTarget) -> Liquidation:
    """Close the target's positions at bankruptcy; the wallet never goes below zero."""
    described = tuple(_describe(account, p) for p in target.positions)
    maintenance = sum((account.maintenance_margin(p) for p in target.positions), ZERO)
    fee_due = sum(
        (
            p.qty * d.mark_price * account.instrument(p.symbol).liquidation_fee_rate
            for p, d in zip(target.positions, described, strict=True)
        ),
        ZERO,
    )
    pnl = sum((d.pnl_at_mark for d in described), ZERO)
    if target.margin_mode is MarginMode.ISOLATED:
        margin_before = target.positions[0].isolated_margin
    else:
        margin_before = account.wallet_balance
    left_at_mark = margin_before + pnl
    fee = money(min(fee_due, max(left_at_mark, ZERO)))
    gain = max(left_at_mark, ZERO) - fee
    cover = max(-left_at_mark, ZERO)
    for position in target.positions:
        account.remove_position(position)
    if target.margin_mode is MarginMode.CROSS:
        account.wallet_balance = ZERO
    return Liquidation(
        margin_mode=target.margin_mode,
        positions=described,
        margin_before=margin_before,
        margin_balance_at_mark=left_at_mark,
        maintenance_margin_at_mark=maintenance,
        loss=margin_before,
        clearance_fee=fee,
        insurance_fund_gain=gain,
        insurance_fund_cover=cover,
        wallet_balance_after=account.wallet_balance,
    )


def liquidate_all(account: Account) -> list[Liquidation]:
    """Apply every liquidation due at the current marks; isolated first, then cross."""
    return [liquidate(account, target) for target in liquidatable(account)]


def liquidate_changed(account: Account) -> list[Liquidation]:
    """`liquidate_all` for the engine's ticks: the isolated positions unchanged since the last
    check are as that check left them (not liquidatable), so only the changed ones are
    checked; the cross check reads the kept totals. Same targets, same order."""
    targets = liquidatable(account, account.unchecked_isolated())
    return [liquidate(account, target) for target in targets]
