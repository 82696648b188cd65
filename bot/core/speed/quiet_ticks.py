"""The engine's quiet ticks: after a tick worked out in full changed nothing, the marks (and
index prices) at which no account's trigger is reached, no trailing stop moves and no position
can be liquidated, and the last prices at which no trigger or limit is reached (bands.py). A
later tick inside them only records its price.

Any command forgets them all (the engine calls `forget_all`); a tick that did something drops
those of the symbols its events name; a change to a position drops those of its symbol and, for
the wallet behind them, of its account's cross symbols (the engine's Stamps); a cross
allocation a mark has left drops the bands cut to it. One per engine; the differential tests
replace it with `QuietTicks` that never learns a band (tests/core/in_full.py) and compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.core.engine_events import (
    EngineEvent,
    FundingSettled,
    OrderFilled,
    PositionLiquidated,
    PositionPartiallyLiquidated,
)
from bot.core.ledger.position_index import Stamps
from bot.core.market import MarkPrice
from bot.core.orders.model import PriceSource
from bot.core.speed.bands import (
    EVERYWHERE,
    Allocation,
    Band,
    allocate,
    around,
    isolated_width,
    within,
)
from bot.core.values import ONE, MarginMode

if TYPE_CHECKING:
    from bot.core.ledger.account import Account
    from bot.core.orders.desk import AccountDesk


class Ticked(Protocol):
    """What the quiet ticks read of their engine."""

    stamps: Stamps

    def desks_on(self, venue: str) -> tuple[AccountDesk, ...]: ...


# A symbol whose bands are left by the very next tick (every tick alerting, say) computes them
# after 1, 3, 7, ... worked-out ticks instead of after each, up to one in 64.
MAX_BACKOFF = 6


@dataclass(slots=True)
class QuietMark:
    stamp: int  # the symbol's ledger as it was (Stamps.symbols)
    mark: Band
    index: Band
    accounts: tuple[Account, ...]  # those with the instrument: they record the mark
    used: bool = False  # a tick fell inside


class QuietTicks:
    def __init__(self, engine: Ticked) -> None:
        self.engine = engine
        self.stamped = engine.stamps.symbols
        self.mark_bands: dict[tuple[str, str], QuietMark] = {}
        # (venue, symbol) → (the symbol's stamp, the band); the engine reads it at every trade
        self.last_bands: dict[tuple[str, str], tuple[int, Band]] = {}
        self.allocations: dict[str, Allocation] = {}
        self.backoff: dict[tuple[str, str], tuple[int, int]] = {}  # (level, ticks to wait)

    def forget_all(self) -> None:
        """Cleared, not replaced: the engine holds `last_bands` itself."""
        self.mark_bands.clear()
        self.last_bands.clear()
        self.allocations.clear()
        self.backoff.clear()

    # -- marks -----------------------------------------------------------------------------

    def mark_inside(self, event: MarkPrice) -> bool:
        """The mark (and index) inside the symbol's quiet band: the accounts record the mark,
        and the tick is done."""
        quiet = self.mark_bands.get((event.venue, event.symbol))
        if (
            quiet is None
            or quiet.stamp != self.stamped.get(event.symbol, 0)
            or not quiet.mark[0] < event.mark_price < quiet.mark[1]
        ):
            return False
        index = event.index_price
        if index is not None and not quiet.index[0] < index < quiet.index[1]:
            return False
        quiet.used = True
        for account in quiet.accounts:
            account.set_mark(event.symbol, event.mark_price)
        return True

    def after_mark(self, event: MarkPrice, out: list[EngineEvent]) -> None:
        """A mark worked out in full: drop what it invalidated, learn what it allows."""
        # Before anything else: a cross allocation this mark has left guards nothing any more,
        # whether or not bands are computed now (MAX_BACKOFF).
        for desk in self.engine.desks_on(event.venue):
            allocation = self.allocations.get(desk.name)
            if allocation is not None and allocation.left(event.symbol, event.mark_price):
                self._drop_allocation(desk)
        key = (event.venue, event.symbol)
        if out:
            self._forget_symbols(event.venue, event.symbol, out)
        else:
            self.learn_mark_band(key, self.mark_bands.get(key))

    def learn_mark_band(self, key: tuple[str, str], quiet: QuietMark | None) -> None:
        """After a mark tick that changed nothing: the symbol's quiet band, now or after a
        backoff (MAX_BACKOFF)."""
        level, wait = self.backoff.get(key, (0, 0))
        if quiet is not None:  # there was a band, and this tick left it
            level = 0 if quiet.used else min(level + 1, MAX_BACKOFF)
            wait = (1 << level) - 1
            self.mark_bands.pop(key, None)
        if wait:
            self.backoff[key] = (level, wait - 1)
        else:
            self.backoff[key] = (level, 0)
            found = self._quiet_mark(*key)
            if found is not None:
                self.mark_bands[key] = found

    def _quiet_mark(self, venue: str, symbol: str) -> QuietMark | None:
        """The symbol's quiet mark and index bands as things are now, if every account has one.
        (That a mark has left a cross allocation is checked apart, at every worked-out tick.)"""
        stamp = self.stamped.get(symbol, 0)
        mark_band = index_band = EVERYWHERE
        accounts: list[Account] = []
        for desk in self.engine.desks_on(venue):
            account = desk.account
            if symbol not in account.instruments:
                continue
            accounts.append(account)
            by_mark = desk.quiet_band(symbol, PriceSource.MARK)
            by_index = desk.quiet_band(symbol, PriceSource.INDEX)
            safe = self._unliquidated_band(desk, symbol) if account.holds(symbol) else EVERYWHERE
            if by_mark is None or by_index is None or safe is None:
                return None
            mark_band = within(within(mark_band, by_mark), safe)
            index_band = within(index_band, by_index)
        return QuietMark(stamp, mark_band, index_band, tuple(accounts))

    def _unliquidated_band(self, desk: AccountDesk, symbol: str) -> Band | None:
        """Marks of the symbol at which none of the account's positions can be liquidated (its
        cross positions: while its other cross marks stay in their allocated bands)."""
        account = desk.account
        mark = account.marks[symbol]
        band = EVERYWHERE
        if account.has_cross_on(symbol):
            # One this mark has left was dropped before (`after_mark`); a stale one goes here.
            allocation = self.allocations.get(desk.name)
            if allocation is None or allocation.stamp != account.ledger_epoch():
                if allocation is not None:
                    self._drop_allocation(desk)
                allocation = allocate(account, account.ledger_epoch(), None, ONE)
                if allocation is None:
                    return None
                self.allocations[desk.name] = allocation
            band = allocation.bands[symbol]
        for position in account.positions_of(symbol):
            if position.margin_mode is MarginMode.ISOLATED:
                width = isolated_width(account, position, None, ONE)
                if width is None:
                    return None
                band = within(band, around(mark, width))
        return band

    # -- last prices -----------------------------------------------------------------------

    def last_inside(self, venue: str, symbol: str, price: object) -> bool:
        quiet = self.last_bands.get((venue, symbol))
        return (
            quiet is not None
            and quiet[0] == self.stamped.get(symbol, 0)
            and quiet[1][0] < price < quiet[1][1]  # type: ignore[operator]
        )

    def after_last(
        self, venue: str, symbol: str, watching: Sequence[AccountDesk], out: list[EngineEvent]
    ) -> None:
        if out:
            self._forget_symbols(venue, symbol, out)
        else:
            self.learn_last_band((venue, symbol), symbol, watching)

    def learn_last_band(
        self, key: tuple[str, str], symbol: str, watching: Sequence[AccountDesk]
    ) -> None:
        """After a trade or last price that changed nothing: the last prices at which no
        trigger or limit is reached (a trade's band, limits included, serves the last prices
        without trades too)."""
        band: Band | None = EVERYWHERE
        for desk in watching:
            found = desk.quiet_band(symbol, PriceSource.LAST, traded=True)
            band = None if found is None or band is None else within(band, found)
        if band is not None:
            self.last_bands[key] = (self.stamped.get(symbol, 0), band)

    # -- forgetting ------------------------------------------------------------------------

    def _drop_allocation(self, desk: AccountDesk) -> None:
        """The account's allocation no longer holds: neither do the bands cut to it."""
        allocation = self.allocations.pop(desk.name)
        for cut in allocation.bands:
            self.mark_bands.pop((str(desk.account.venue), cut), None)

    def _forget_symbols(self, venue: str, symbol: str, out: list[EngineEvent]) -> None:
        """A tick did something: drop the bands of every symbol its events touched (orders
        moved, filled or cancelled); what the ledger changed drops itself (the Stamps)."""
        for touched in {symbol, *(s for event in out for s in _symbols_of(event))}:
            self.mark_bands.pop((venue, touched), None)
            self.last_bands.pop((venue, touched), None)


def _symbols_of(event: EngineEvent) -> tuple[str, ...]:
    if isinstance(event, PositionLiquidated):
        return tuple(p.symbol for p in event.liquidation.positions)
    if isinstance(event, PositionPartiallyLiquidated):
        return (event.step.symbol,)
    if isinstance(event, FundingSettled):
        return (event.funding.symbol,)
    if isinstance(event, OrderFilled):
        return (event.fill.symbol,)
    found = getattr(event, "symbol", None)
    return (found,) if isinstance(found, str) else ()
