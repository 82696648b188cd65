"""The alert rules' shortcuts: what they remember of quiet evaluations, so that a tick that
cannot make any rule fire costs comparisons instead of an evaluation.

- The evaluation memo: an evaluation of one holder (account, symbol) that changed nothing — no
  alert, no latch moved, nothing held back by a cooldown — is remembered with its inputs (mark,
  index, the ledger state it read); the same inputs give the same nothing. Nor does a new last
  price alone, when every divergence latch is armed and mark and last stay closer than the
  divergence threshold: the risk rule does not read the last price, the divergence rule cannot
  fire.
- Calm bands: a holder found calm keeps the marks between which none of its margin ratios
  crosses a level of its risk latch (bands.py; for cross positions, cut from an allocation of
  the account's cross symbols), and whether no liquidation price can lie inside them. A
  symbol every holder of which is calm is skipped as a whole while its mark stays inside and
  either mark and last stay closer than any divergence threshold, or both are farther from
  the band's edges than any near-liquidation distance.

One per rules object (its state never shared); `price_rules.py` calls it at every tick. The
differential tests replace it with `CalmRules` that never remembers (tests/core/in_full.py) and
compare the alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.core.ledger.account import Account, Position
from bot.core.ledger.position_index import Stamps
from bot.core.orders.desk import AccountDesk
from bot.core.speed.bands import (
    EVERYWHERE,
    Allocation,
    Band,
    allocate,
    around,
    far_inside,
    isolated_width,
    within,
)
from bot.core.values import MarginMode, div

RatioLimits = Callable[[str, Position], tuple[Decimal | None, Decimal | None]]
_SURELY = Decimal(1) - Decimal("1e-20")


@dataclass(slots=True)
class Calm:
    """A symbol every holder of which was found calm."""

    stamp: int  # the engine's stamp of the symbol then
    band: Band  # the marks at which no holder's ratio crosses a level
    threshold: Decimal  # the lowest divergence threshold of the holders
    near: Decimal | None  # the widest near-liquidation distance; None: a liquidation price
    # may lie inside the band
    window_mark: Decimal | None = None
    window: Band = EVERYWHERE  # last prices surely within `threshold` of `window_mark`


Memo = tuple[tuple[object, ...], object, bool]  # (mark, index, ledger state), last, armed


class CalmRules:
    def __init__(self, stamps: Stamps, ratio_limits: RatioLimits) -> None:
        self.stamped = stamps.symbols
        self.ratio_limits = ratio_limits  # the rules' own: between them a risk latch is silent
        self.memo: dict[tuple[str, str], Memo] = {}
        self.calm: dict[tuple[str, str], Calm] = {}
        # (account, symbol) → (symbol stamp, band, no liquidation price inside it)
        self.held_calm: dict[tuple[str, str], tuple[int, Band, bool]] = {}
        # account → the bands of its cross symbols in which its cross ratio crosses no level
        self.allocations: dict[str, Allocation] = {}

    # -- the symbol ------------------------------------------------------------------------

    def symbol_is_calm(self, venue: str, symbol: str, mark: Decimal, last: Decimal | None) -> bool:
        """Every holder calm, nothing of the ledger changed since, the mark inside the band,
        and the last price unable to make the divergence rule fire."""
        calm = self.calm.get((venue, symbol))
        if (
            calm is None
            or calm.stamp != self.stamped.get(symbol, 0)
            or not calm.band[0] < mark < calm.band[1]
        ):
            return False
        if last is None:
            return True
        if calm.window_mark is not mark:
            # Last prices surely closer to this mark than the threshold: two comparisons
            # instead of a division at every trade (the margin covers the division's
            # rounding; outside it the division decides, as the rule would).
            reach = calm.threshold * mark * _SURELY
            calm.window, calm.window_mark = (mark - reach, mark + reach), mark
        return (
            calm.window[0] < last < calm.window[1]
            or div(abs(mark - last), mark) < calm.threshold
            or (calm.near is not None and _far(calm.band, mark, last, calm.near))
        )

    def remember_symbol(
        self,
        venue: str,
        symbol: str,
        stamp: int,
        band: Band,
        threshold: Decimal | None,
        near: Decimal | None,
        all_calm: bool,
    ) -> None:
        if all_calm and threshold is not None:
            self.calm[(venue, symbol)] = Calm(stamp, band, threshold, near)
        else:
            self.calm.pop((venue, symbol), None)

    def left_allocations(self, holders: list[AccountDesk], symbol: str, mark: Decimal) -> None:
        """Allocations this mark has left guard nothing any more."""
        for desk in holders:
            allocation = self.allocations.get(desk.name)
            if allocation is not None and allocation.left(symbol, mark):
                self.forget_allocation(desk.name, str(desk.account.venue))

    # -- one holder ------------------------------------------------------------------------

    def holder_calm(
        self,
        key: tuple[str, str],
        stamp: int,
        mark: Decimal,
        last: Decimal | None,
        divergence: Decimal,
        divergence_threshold: Decimal,
        near_liquidation: Decimal,
    ) -> tuple[int, Band, bool] | None:
        """The holder's calm band when it still holds at these prices (then its evaluation is
        skipped): while another holder keeps the symbol busy, a calm one costs a comparison."""
        held = self.held_calm.get(key)
        if (
            held is not None
            and held[0] == stamp
            and held[1][0] < mark < held[1][1]
            and (
                last is None
                or divergence < divergence_threshold
                or (held[2] and _far(held[1], mark, last, near_liquidation))
            )
        ):
            return held
        return None

    def after_evaluation(
        self, desk: AccountDesk, symbol: str, stamp: int, mark: Decimal, account_calm: bool
    ) -> tuple[Band, bool] | None:
        """After an evaluation: the holder's calm band if it is calm now (None: not calm)."""
        key = (desk.name, symbol)
        own = self.holder_band(desk, symbol, mark) if account_calm else None
        if own is None:
            self.held_calm.pop(key, None)
        else:
            self.held_calm[key] = (stamp, *own)
        return own

    def holder_band(
        self, desk: AccountDesk, symbol: str, mark: Decimal
    ) -> tuple[Band, bool] | None:
        """The marks of the symbol at which none of the holder's margin ratios crosses a level
        of its risk latch (for cross positions: while the account's other marks stay in their
        allocated bands), and whether no position can be liquidated inside them either (every
        ratio kept below a ceiling of at most 1): then no liquidation price lies inside."""
        band = EVERYWHERE
        unliquidated = True
        account = desk.account
        if account.has_cross_on(symbol):
            allocation = self.allocations.get(desk.name)
            if allocation is None or allocation.stamp != account.ledger_epoch():
                allocation = self._allocate(desk.name, account)
                if allocation is None:
                    return None
            band = allocation.bands[symbol]
            unliquidated = allocation.unliquidated
        for position in account.positions_of(symbol):
            if position.margin_mode is MarginMode.ISOLATED:
                floor, ceiling = self.ratio_limits(desk.name, position)
                width = isolated_width(account, position, floor, ceiling)
                if width is None:
                    return None
                band = within(band, around(mark, width))
                unliquidated = unliquidated and ceiling is not None and ceiling <= 1
        return band, unliquidated

    def _allocate(self, name: str, account: Account) -> Allocation | None:
        floors, ceilings = [], []
        for position in account.cross_positions():
            floor, ceiling = self.ratio_limits(name, position)
            if floor is not None:
                floors.append(floor)
            if ceiling is not None:
                ceilings.append(ceiling)
        allocation = allocate(
            account,
            account.ledger_epoch(),
            max(floors) if floors else None,
            min(ceilings) if ceilings else None,
        )
        if allocation is None:
            self.allocations.pop(name, None)
        else:
            self.allocations[name] = allocation
        return allocation

    def forget_allocation(self, name: str, venue: str) -> None:
        """The account's allocation no longer holds: neither do the bands cut to it."""
        allocation = self.allocations.pop(name, None)
        if allocation is not None:
            for symbol in allocation.bands:
                self.calm.pop((venue, symbol), None)
                self.held_calm.pop((name, symbol), None)

    # -- the evaluation memo ---------------------------------------------------------------

    def state(self, account: Account, symbol: str) -> tuple[object, ...] | None:
        """What an evaluation of the holder depends on besides the prices and the latches:
        the same state at the same prices as a quiet evaluation is quiet again."""
        return _ledger_state(account, symbol)

    def unchanged(
        self,
        key: tuple[str, str],
        inputs: tuple[object, ...],
        mark: Decimal,
        last: Decimal | None,
        divergence_threshold: Decimal,
    ) -> bool | None:
        """The remembered calm (armed) of a quiet evaluation with these inputs; None when the
        holder must be evaluated."""
        quiet = self.memo.get(key)
        if (
            quiet is not None
            and quiet[0] == inputs
            and (
                quiet[1] == last
                or (
                    quiet[2]
                    and last is not None
                    and div(abs(mark - last), mark) < divergence_threshold
                )
            )
        ):
            return quiet[2]
        return None


def _far(band: Band, mark: Decimal, last: Decimal, near: Decimal) -> bool:
    """Mark and last both farther than `near` from the edges of a band no liquidation price
    lies inside: the divergence rule cannot fire, however far apart they are."""
    return far_inside(band, mark, near) and far_inside(band, last, near)


def nearer(near: Decimal | None, unliquidated: bool, distance: Decimal) -> Decimal | None:
    return None if near is None or not unliquidated else max(near, distance)


def _ledger_state(account: Account, symbol: str) -> tuple[object, ...]:
    """Everything of the ledger the price rules read for the symbol's positions: the positions
    (by the ledger's stamp, which changes with any of them) and the wallet; for cross positions
    sharing the wallet with other symbols', also the cross totals, through which the others'
    marks and positions reach their margin ratio and liquidation price."""
    if account.has_cross_beyond(symbol) and account.has_cross_on(symbol):
        return (account.wallet_balance, account.ledger_stamp(symbol), account.cross_totals())
    return (account.wallet_balance, account.ledger_stamp(symbol))
