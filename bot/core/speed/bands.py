"""Quiet bands: how far prices may move before anything can happen.

Nearly every tick changes nothing anyone can see: no trigger is reached, no position comes near
liquidation, no margin-ratio level is crossed. Working that out afresh for every account holding
the ticked symbol is what a tick costs. Instead, after a tick has been worked out in full, the
engine and the alert rules compute for each symbol a *band*: an open price interval in which
every further tick is proven to change nothing but the marks. A tick inside the band costs a
comparison; a tick outside it is worked out in full, and the band computed again.

The margin ratio (maintenance margin / margin balance) is bounded over a band by two facts:

- a position's unrealized PnL moves by at most qty × |Δmark|;
- its maintenance margin (tier rate × notional − amount, the tier chosen by notional: Binance
  by the notional at the mark, Bybit by the notional at entry, where it does not move at all;
  a Bybit Unified account's fee to close is fixed at entry too; OKX's requirement is the value
  at the mark × (the rate of the tier its size fixes + the taker rate))
  moves by at most qty × rate × |Δmark|, the rate the highest of the tiers the notional can
  reach when the table is continuous at its edges (Binance derives its amounts so that it is),
  else the rate of its own tier while the notional stays inside that tier.

So if every mark of the positions stays within a relative distance w of where it was, the
maintenance margin MM' ≤ MM + w·R and the margin balance E' ≥ E − w·N (R = Σ notional × rate,
N = Σ notional), and the ratio stays below a ceiling c when MM + w·R < c·(E − w·N), above a
floor f when MM − w·R ≥ f·(E + w·N). `ratio_width` returns half the largest such w: the bands
are conservative, never exact boundaries, and the halving leaves a margin far above the 28-digit
rounding of the ratio the rules compare. Liquidation is the ceiling 1 (E' > MM').

Cross positions share the margin balance across symbols: their width is *allocated* for all the
account's cross symbols at once, each band centred on its symbol's mark at the time
(`Allocation`), and holds only while every one of those marks stays inside its band.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.core.instruments import TierTable
from bot.core.ledger.account import Account, Position
from bot.core.values import ONE, ZERO, div

HALF = Decimal("0.5")
MIN_WIDTH = Decimal("1e-9")  # narrower than this, a band would save nothing: no band
FAR_MARGIN = Decimal("1.000001")
BELOW = Decimal("-Infinity")
ABOVE = Decimal("Infinity")

Band = tuple[Decimal, Decimal]  # open interval (low, high); infinite ends for none
EVERYWHERE: Band = (BELOW, ABOVE)


def ratio_width(
    account: Account,
    positions: Iterable[Position],
    maintenance: Decimal,
    balance: Decimal,
    floor: Decimal | None,
    ceiling: Decimal | None,
) -> Decimal | None:
    """Half the largest relative mark move w under which the margin ratio of `positions`
    (together: `maintenance` / `balance` now) stays in [floor, ceiling) and every notional in
    its tier; None when it is not inside now or the width would be negligible."""
    limit = ONE  # the bands then reach at most half way to a zero mark or a double one
    notional = slope = ZERO
    for position in positions:
        mark = account.marks.get(position.symbol)
        if mark is None:
            return None
        value = position.qty * mark
        tiers = account.instrument(position.symbol).tiers
        notional += value
        fixed = account.formulas.mark_rate(account.leg(position))
        if fixed is not None:  # the tier cannot move with the mark: the rate is exact
            slope += value * fixed
            continue
        rate = _steepest(tiers, value + value)
        if rate is None:  # not continuous at its edges: stay inside the tier
            tier = tiers.tier_for(value)
            rate = tier.maint_margin_rate
            if tier.notional_cap is not None:
                limit = min(limit, div(tier.notional_cap - value, value))
            if tier.notional_floor > ZERO:
                limit = min(limit, div(value - tier.notional_floor, value))
        slope += value * rate
    if ceiling is not None:
        room = ceiling * balance - maintenance
        if room <= ZERO:
            return None
        limit = min(limit, div(room, slope + ceiling * notional))
    if floor is not None and floor > ZERO:
        room = maintenance - floor * balance
        if room <= ZERO:
            return None
        limit = min(limit, div(room, slope + floor * notional))
    width = limit * HALF
    return width if width >= MIN_WIDTH else None


def _steepest(tiers: TierTable, below: Decimal) -> Decimal | None:
    """The highest rate of the tiers starting below this notional, when the table's margin is
    continuous and rising: then that rate bounds how fast the maintenance margin can grow
    across tier edges. None for a table with steps."""
    if not tiers.continuous:
        return None
    return max(t.maint_margin_rate for t in tiers.tiers if t.notional_floor < below)


def isolated_width(
    account: Account, position: Position, floor: Decimal | None, ceiling: Decimal | None
) -> Decimal | None:
    mark = account.marks.get(position.symbol)
    if mark is None:
        return None
    balance = position.isolated_margin + position.unrealized_pnl(mark)
    return ratio_width(
        account, (position,), account.maintenance_margin(position), balance, floor, ceiling
    )


@dataclass(frozen=True, slots=True)
class Allocation:
    """One width for every cross symbol of an account, centred on the marks when it was made;
    valid while the ledger is unchanged (`stamp`) and every mark stays in its band."""

    stamp: int
    bands: dict[str, Band]
    # Its ceiling is at most 1: no position is liquidatable anywhere inside the bands, so each
    # cross position's liquidation price (the others' marks where they are) lies outside its band.
    unliquidated: bool

    def left(self, symbol: str, mark: Decimal) -> bool:
        """Whether this mark of one of its symbols lies outside its band: no longer valid."""
        band = self.bands.get(symbol)
        return band is not None and not band[0] < mark < band[1]


def allocate(
    account: Account, stamp: int, floor: Decimal | None, ceiling: Decimal | None
) -> Allocation | None:
    """The account's cross bands for a ratio kept in [floor, ceiling); None when none hold."""
    cross = account.cross_positions()
    maintenance, unrealized = account.cross_totals()
    width = ratio_width(
        account, cross, maintenance, account.wallet_balance + unrealized, floor, ceiling
    )
    if width is None:
        return None
    bands = {p.symbol: around(account.marks[p.symbol], width) for p in cross}
    return Allocation(stamp, bands, ceiling is not None and ceiling <= ONE)


def around(mark: Decimal, width: Decimal) -> Band:
    return (mark * (ONE - width), mark * (ONE + width))


def far_inside(band: Band, price: Decimal, distance: Decimal) -> bool:
    """Whether the price lies inside the band, farther than `distance` (relative to the price)
    from either edge: then it is farther than that from anything outside the band. The margin
    keeps the answer true through the 28-digit rounding of the distances the rules compute."""
    reach = distance * price * FAR_MARGIN
    return price - band[0] > reach and band[1] - price > reach


def within(band: Band, other: Band) -> Band:
    """The intersection of two bands."""
    return (max(band[0], other[0]), min(band[1], other[1]))
