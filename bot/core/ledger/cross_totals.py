"""The cross sums every tick reads, kept per symbol and updated by the symbols that changed.

A cross account's liquidation check, margin ratio and each position's liquidation price read
the maintenance margin and unrealized PnL summed over all its cross positions. Summing them
afresh at every tick costs a pass over every position; instead each symbol's share is kept, and
a change of a mark or a position replaces only that symbol's share in the totals.

Exactness: the totals are exact sums. Every addition and subtraction runs in a context that
traps `Inexact`, so a result is either exact — equal digit for digit to a fresh sum of the same
values, in any order — or the operation raises and the totals are summed afresh, still trapping,
and at worst with ordinary rounding (values of some 60 significant digits, which margins in
8-decimal money never reach).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow

from bot.core.values import ZERO

_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])
_add = _EXACT.add
_subtract = _EXACT.subtract

Share = tuple[Decimal, Decimal]  # (maintenance margin, unrealized PnL) of one symbol
NOTHING: Share = (ZERO, ZERO)


class CrossTotals:
    def __init__(
        self, share_of: Callable[[str], Share], symbols: Callable[[], Iterable[str]]
    ) -> None:
        self._share_of = share_of  # a symbol's share, NOTHING when it holds no cross position
        self._symbols = symbols  # the symbols holding cross positions
        self._shares: dict[str, Share] = {}
        self._dirty: set[str] = set()
        self._valid = False
        self._maintenance = ZERO
        self._unrealized = ZERO

    def touch(self, symbol: str) -> None:
        """The symbol's mark or cross positions changed."""
        self._dirty.add(symbol)

    def reset(self) -> None:
        """Anything may have changed (instruments reloaded, state restored)."""
        self._valid = False
        self._dirty.clear()

    def share(self, symbol: str) -> Share:
        """The symbol's own share of the totals (as of the last `totals()`)."""
        self.totals()
        return self._shares.get(symbol, NOTHING)

    def totals(self) -> Share:
        if not self._valid:
            return self._resum()
        if self._dirty:
            try:
                for symbol in self._dirty:
                    old_mm, old_upnl = self._shares.pop(symbol, NOTHING)
                    new = self._share_of(symbol)
                    if new != NOTHING:
                        self._shares[symbol] = new
                    self._maintenance = _add(_subtract(self._maintenance, old_mm), new[0])
                    self._unrealized = _add(_subtract(self._unrealized, old_upnl), new[1])
            except Inexact:
                return self._resum()
            self._dirty.clear()
        return self._maintenance, self._unrealized

    def _resum(self) -> Share:
        self._dirty.clear()
        self._shares = {}
        for symbol in self._symbols():
            share = self._share_of(symbol)
            if share != NOTHING:
                self._shares[symbol] = share
        try:
            self._maintenance = sum_exact(mm for mm, _ in self._shares.values())
            self._unrealized = sum_exact(upnl for _, upnl in self._shares.values())
        except Inexact:
            self._maintenance = sum((mm for mm, _ in self._shares.values()), ZERO)
            self._unrealized = sum((upnl for _, upnl in self._shares.values()), ZERO)
        self._valid = True
        return self._maintenance, self._unrealized


def sum_exact(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = _add(total, value)
    return total


def minus_exact(total: Decimal, part: Decimal) -> Decimal:
    """`total − part` exactly; raises `Inexact` when it cannot be."""
    return _subtract(total, part)
