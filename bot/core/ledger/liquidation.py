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
final, full liquidation; Binance's partial reduction of large positions in steps is not modelled
(its documents do not say by how much).

Partial liquidation (Bybit and OKX, `MarginFormulas.partial_liquidation`): a position in a
higher tier is first reduced down the tiers, each step an order at the market that closes what
takes it to a lower tier (Bybit help "Liquidation Process (USDT Contract)": cancel the active
orders, then a FillOrKill order of the difference between the position value and the lower risk
limit that meets the requirement, then liquidation at the bankruptcy price if still below it;
OKX "forced partial liquidation", as restated by third parties, not read on OKX's own page:
from tier 3 up, two tiers down per step, full liquidation once tier 1's requirement is not met
either). The engine cancels the symbol's orders before the steps apply. Steps close at the mark
price with the account's taker fee: the venues say "at the market", not at which price. An
isolated position's step pays its fee from the position's margin, never from the wallet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, Inexact

from bot.core.events import Fill, LiquidatedPosition, Liquidation, PartialLiquidation
from bot.core.ledger.account import Account, Position
from bot.core.ledger.cross_totals import minus_exact
from bot.core.ledger.margin import Leg, LiquidationInputs
from bot.core.values import MONEY_QUANTUM, ZERO, Liquidity, MarginMode, OrderSide, div, money


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


Outcome = Liquidation | PartialLiquidation


def liquidate_all(account: Account) -> list[Outcome]:
    """Apply every liquidation due at the current marks; isolated first, then cross."""
    return _settle_all(account, liquidatable(account))


def liquidate_changed(account: Account) -> list[Outcome]:
    """`liquidate_all` for the engine's ticks: the isolated positions unchanged since the last
    check are as that check left them (not liquidatable), so only the changed ones are
    checked; the cross check reads the kept totals. Same targets, same order."""
    return _settle_all(account, liquidatable(account, account.unchecked_isolated()))


def _settle_all(account: Account, targets: list[LiquidationTarget]) -> list[Outcome]:
    out: list[Outcome] = []
    for target in targets:
        out += _settle(account, target)
    return out


def _settle(account: Account, target: LiquidationTarget) -> list[Outcome]:
    """Steps down the tiers where the venue takes them, then the full liquidation if due."""
    rule = account.formulas.partial_steps
    if rule is None:
        return [liquidate(account, target)]
    steps: list[Outcome] = []
    while True:
        if target.margin_mode is MarginMode.ISOLATED:
            if not isolated_is_liquidatable(account, target.positions[0]):
                return steps
            candidates = list(target.positions)
        else:
            if not cross_is_liquidatable(account):
                return steps
            candidates = account.cross_positions()
            target = LiquidationTarget(MarginMode.CROSS, tuple(candidates))
        step = _next_step(account, target, candidates, rule)
        if step is None:
            return [*steps, liquidate(account, target)]
        steps.append(step)


def _next_step(
    account: Account,
    target: LiquidationTarget,
    candidates: list[Position],
    rule: tuple[int, int],
) -> PartialLiquidation | None:
    """Reduce the candidate with the largest maintenance margin in a tier the venue steps down
    from, when the lowest tier could still meet the requirement; None: liquidate in full."""
    first, step = rule
    ranked = sorted(candidates, key=account.maintenance_margin, reverse=True)
    for position in ranked:
        mark = account.mark(position.symbol, position.entry_price)
        leg = account.leg(position)
        index = _tier_index(account, leg, mark)
        if index < first:
            continue
        if not _lowest_tier_would_do(account, target, position, mark):
            return None
        qty = _largest_in_tier(account, position, mark, max(index - step, 0))
        if qty is None or qty <= ZERO or qty >= position.qty:
            return None
        return _reduce(account, target, position, qty, mark, index)
    return None


def _tier_index(account: Account, leg: Leg, mark: Decimal) -> int:
    return leg.tiers.tier_index(leg.qty * account.formulas.tier_basis(leg, mark))


def _largest_in_tier(
    account: Account, position: Position, mark: Decimal, index: int
) -> Decimal | None:
    """The largest size, in lot steps, whose tier is `index` or lower."""
    leg = account.leg(position)
    cap = leg.tiers.tiers[index].notional_cap
    if cap is None:
        return None
    basis = account.formulas.tier_basis(leg, mark)
    lot = account.instrument(position.symbol).lot_size or MONEY_QUANTUM
    qty = (div(cap, basis) // lot) * lot
    while qty > ZERO and leg.tiers.tier_index(qty * basis) > index:
        qty -= lot
    return qty


def _lowest_tier_would_do(
    account: Account, target: LiquidationTarget, position: Position, mark: Decimal
) -> bool:
    """Whether the position cut to the largest size of the lowest tier meets the requirement
    at this mark (the rest as it is): if not, the venues liquidate at once, without steps."""
    leg = account.leg(position)
    qty = _largest_in_tier(account, position, mark, 0)
    if qty is None or qty <= ZERO:
        return False
    smaller = Leg(leg.side, qty, leg.entry_price, leg.tiers, leg.leverage, leg.taker_fee_rate)
    share = div(qty, position.qty)
    fee = (position.qty - qty) * mark * leg.taker_fee_rate
    after = account.formulas.maintenance_margin(smaller, mark)
    if target.margin_mode is MarginMode.ISOLATED:  # the step's fee comes out of the margin
        balance = (position.isolated_margin + position.unrealized_pnl(mark)) * share - fee
        return balance > after
    maintenance, unrealized = account.cross_totals()
    balance = account.wallet_balance + unrealized - fee
    return balance > maintenance - account.maintenance_margin(position) + after


def _reduce(
    account: Account,
    target: LiquidationTarget,
    position: Position,
    qty: Decimal,
    mark: Decimal,
    index: int,
) -> PartialLiquidation:
    before_mm = account.maintenance_margin(position)
    if target.margin_mode is MarginMode.ISOLATED:
        balance = position.isolated_margin + position.unrealized_pnl(mark)
    else:
        balance = account.wallet_balance + account.cross_totals()[1]
    qty_before, side = position.qty, position.side
    closing = OrderSide.SELL if side.sign > 0 else OrderSide.BUY
    cut = qty_before - qty
    fill = Fill(position.symbol, closing, cut, mark, Liquidity.TAKER, position.slot, True)
    applied = account.apply_fill(fill)
    after = account.held(position.symbol, position.slot)  # the step leaves `qty` > 0
    if target.margin_mode is MarginMode.ISOLATED:
        account.pay_from_isolated_margin(after, applied.fee)
    return PartialLiquidation(
        margin_mode=target.margin_mode,
        symbol=position.symbol,
        slot=position.slot,
        side=side,
        qty_before=qty_before,
        qty_closed=applied.qty,
        qty_after=after.qty,
        price=mark,
        tier_before=index + 1,
        tier_after=_tier_index(account, account.leg(after), mark) + 1,
        margin_balance_at_mark=balance,
        maintenance_margin_before=before_mm,
        maintenance_margin_after=account.maintenance_margin(after),
        fee=applied.fee,
        realized_pnl=applied.realized_pnl,
        isolated_margin_after=after.isolated_margin,
        wallet_balance_after=account.wallet_balance,
    )
