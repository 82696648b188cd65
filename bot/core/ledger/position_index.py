"""The account's open positions indexed for the ticks, beside the ledger's own dict.

Every tick reads the positions of one symbol, whether cross positions elsewhere share the
wallet, and whether anything changed: kept here so that a tick costs the same whatever else the
account holds. A stamp per symbol changes with any of its positions (the alert rules remember
quiet evaluations under it); the symbols whose positions or mark changed since the engine's
last liquidation check are kept so that the check looks only at those. All of it is rebuilt
from the positions, never stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.ledger.cross_totals import CrossTotals
from bot.core.ledger.positions import Position
from bot.core.values import MarginMode, PositionSlot


class Stamps:
    """Stamps for changes to positions, one clock per engine (shared by its accounts): unique
    within it, so a stamp seen before means nothing changed since.

    `symbols`: symbol → the stamp of the last change to anything an account's positions on it
    are valued with: a position on it, or (for a cross position) the wallet or any cross
    position of the same account. The quiet bands of a symbol hold while its entry does not
    move. Shared by the engine's accounts, whatever their venue: a change on one venue's
    BTCUSDT also drops the other's bands, which costs a recomputation, never a wrong band."""

    __slots__ = ("latest", "symbols")

    def __init__(self) -> None:
        self.latest = 0
        self.symbols: dict[str, int] = {}

    def next(self) -> int:
        self.latest += 1
        return self.latest


class PositionIndex:
    """Mixed into `Account`: the index over its `_positions` and what keeps it current."""

    _positions: dict[tuple[str, PositionSlot], Position]
    _cross: CrossTotals
    _by_symbol: dict[str, list[Position]]
    _cross_count: dict[str, int]
    _cross_positions: int
    _unchecked: set[str]
    _stamps: dict[str, int]
    _clock: Stamps

    DERIVED = (
        "_by_symbol", "_cross_count", "_cross_positions", "_unchecked", "_stamps", "_epoch",
        "_clock",
    )  # fmt: skip

    def attach(self, clock: Stamps) -> None:
        """Stamp with the engine's clock from now on (an account alone has its own)."""
        self._clock = clock
        self._build_index()

    def _build_index(self) -> None:
        if not hasattr(self, "_clock"):
            self._clock = Stamps()
        clock = self._clock
        self._by_symbol = {}
        self._cross_count = {}
        self._cross_positions = 0
        for position in self._positions.values():
            self._index(position)
        self._unchecked = set(self._by_symbol)
        self._stamps = {symbol: clock.next() for symbol in self._by_symbol}
        self._epoch = clock.next()
        clock.symbols.update(dict.fromkeys(self._by_symbol, self._epoch))

    def _index(self, position: Position) -> None:
        self._by_symbol.setdefault(position.symbol, []).append(position)
        if position.margin_mode is MarginMode.CROSS:
            self._cross_count[position.symbol] = self._cross_count.get(position.symbol, 0) + 1
            self._cross_positions += 1

    def _unindex(self, position: Position) -> None:
        held = self._by_symbol[position.symbol]
        held.remove(position)
        if not held:
            del self._by_symbol[position.symbol]
        if position.margin_mode is MarginMode.CROSS:
            left = self._cross_count[position.symbol] - 1
            if left:
                self._cross_count[position.symbol] = left
            else:
                del self._cross_count[position.symbol]
            self._cross_positions -= 1

    def _ledger_changed(self, symbol: str) -> None:
        """A position of the symbol (size, entry, margin) changed, and with it perhaps the
        wallet, through which every cross position of the account is valued."""
        stamp = self._stamps[symbol] = self._epoch = self._clock.next()
        symbols = self._clock.symbols
        symbols[symbol] = stamp
        for cross in self._cross_count:
            symbols[cross] = stamp
        self._changed(symbol)

    def _ledgers_changed(self, symbols: Sequence[str]) -> None:
        """`_ledger_changed` for many symbols at once: one stamp, one pass over the crosses."""
        if not symbols:
            return
        stamp = self._epoch = self._clock.next()
        stamped = self._clock.symbols
        for symbol in symbols:
            self._stamps[symbol] = stamp
            stamped[symbol] = stamp
            self._changed(symbol)
        for cross in self._cross_count:
            stamped[cross] = stamp

    def ledger_epoch(self) -> int:
        """Changes whenever anything of the account's positions or wallet changes."""
        return self._epoch

    def ledger_stamp(self, symbol: str) -> int:
        """Changes whenever a position of the symbol changes; never repeats in an engine."""
        return self._stamps.get(symbol, -1)

    def _changed(self, symbol: str) -> None:
        """A mark or a position of the symbol changed: its sums and its checks are due."""
        self._cross.touch(symbol)
        self._unchecked.add(symbol)

    def holds(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    def positions_of(self, symbol: str) -> list[Position]:
        held = self._by_symbol.get(symbol)
        return list(held) if held is not None else []

    def has_cross_positions(self) -> bool:
        return self._cross_positions > 0

    def has_cross_on(self, symbol: str) -> bool:
        return symbol in self._cross_count

    def has_cross_beyond(self, symbol: str) -> bool:
        """Whether cross positions on other symbols share the cross wallet with this one's."""
        return self._cross_positions > self._cross_count.get(symbol, 0)

    def unchecked_isolated(self) -> list[Position]:
        """The isolated positions that changed (mark, size, margin) since the last call, in
        the account's order; the others are as the last liquidation check left them."""
        due = [
            p
            for symbol in self._unchecked
            for p in self._by_symbol.get(symbol, ())
            if p.margin_mode is MarginMode.ISOLATED
        ]
        self._unchecked.clear()
        if len(due) > 1:
            order = {id(p): n for n, p in enumerate(self._positions.values())}
            due.sort(key=lambda p: order[id(p)])
        return due
