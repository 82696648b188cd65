"""The engine: one typed input in, typed outputs out, deterministically.

It composes the price board, every account's ledger and orders, triggers, liquidation and
funding. On a mark tick it fires mark-triggered orders first, then liquidates what the ledger's
predicate says (cancelling the liquidated positions' orders). On a trade it fires last-triggered
orders and fills resting limits the trade printed through. Funding is settled when the venue
moves its next-funding time past a settlement (Binance `markPriceUpdate.T`), at that tick's mark
and the rate announced before it.

After a tick worked out in full that changed nothing, the engine keeps the symbol's quiet bands
(`bands.py`): the marks (and index prices) at which no account's trigger is reached, no trailing
stop moves and no position can be liquidated, and the last prices at which no trigger or limit
is reached. A later tick inside them only records the price. Any command drops them all; a tick
that did something drops those of the symbols its events name; a change to a position drops
those of its symbol and, for the wallet behind them, of its account's cross symbols
(the engine's `Stamps`, shared by its accounts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.core.commands import (
    AdjustIsolatedMargin,
    CancelOrder,
    ClosePosition,
    Command,
    LoadInstruments,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
    SetPositionMode,
    SetTakeProfitStopLoss,
)
from bot.core.engine_events import (
    CommandRefused,
    EngineEvent,
    FundingSettled,
    OrderFilled,
    PositionLiquidated,
    SettingChanged,
)
from bot.core.ledger.account import Account, Position
from bot.core.ledger.liquidation import liquidate_changed
from bot.core.ledger.position_index import Stamps
from bot.core.market import BookTop, LastPrice, MarketEvent, MarkPrice, Trade
from bot.core.orders.desk import AccountDesk
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.prices import PriceBoard, SymbolPrices
from bot.core.speed.bands import (
    EVERYWHERE,
    Allocation,
    Band,
    allocate,
    around,
    isolated_width,
    within,
)
from bot.core.values import ONE, ZERO, MarginMode, OrderSide, Side, slot_words
from bot.errors import InputError, MarginbotError

Input = MarketEvent | Command | LoadInstruments
_MARKET_INPUTS = frozenset({MarkPrice, Trade, LastPrice, BookTop})


@dataclass(slots=True)
class _QuietMark:
    stamp: int  # the symbol's ledger as it was (Stamps.symbols)
    mark: Band
    index: Band
    accounts: tuple[Account, ...]  # those with the instrument: they record the mark
    used: bool = False  # a tick fell inside


_DERIVED = ("_mark_bands", "_last_bands", "_allocations", "_backoff", "stamps", "_stamped")
# A symbol whose bands are left by the very next tick (every tick alerting, say) computes them
# after 1, 3, 7, ... worked-out ticks instead of after each, up to one in 64.
MAX_BACKOFF = 6


class Engine:
    def __init__(self, accounts: Mapping[str, Account], slippage_bps: Decimal = ZERO) -> None:
        self.desks = {name: AccountDesk(name, a, slippage_bps) for name, a in accounts.items()}
        self._attach_stamps()
        self._by_venue: dict[str, tuple[AccountDesk, ...]] = {}
        self._orders_by_venue: dict[str, tuple[tuple[AccountDesk, Mapping[str, int]], ...]] = {}
        for desk in self.desks.values():
            venue = str(desk.account.venue)
            self._by_venue[venue] = (*self._by_venue.get(venue, ()), desk)
            watch = (desk, desk.account.open_orders())
            self._orders_by_venue[venue] = (*self._orders_by_venue.get(venue, ()), watch)
        self.prices = PriceBoard()
        self._board = self.prices.symbols  # read directly at every book top
        self._funding: dict[tuple[str, str], tuple[int, Decimal | None]] = {}
        self._brackets = 0
        self._forget_bands()
        self._handlers: dict[type, Callable[[Any], list[EngineEvent]]] = {
            MarkPrice: self._on_mark,
            Trade: self._on_trade,
            LastPrice: self._on_last,
            BookTop: self._on_book,
            PlaceOrder: self._place,
            CancelOrder: self._cancel,
            ClosePosition: self._close,
            SetLeverage: self._leverage,
            SetMarginMode: self._margin_mode,
            SetPositionMode: self._position_mode,
            AdjustIsolatedMargin: self._adjust,
            SetTakeProfitStopLoss: self._tpsl,
            LoadInstruments: self._load_instruments,
        }

    def step(self, event: Input) -> list[EngineEvent]:
        kind = type(event)
        handler = self._handlers.get(kind)
        if handler is None:
            return []
        if kind not in _MARKET_INPUTS:
            self._forget_bands()  # orders, settings or instruments may change
        return handler(event)

    def __getstate__(self) -> dict[str, object]:
        # The bands hold ledger stamps, which only mean something inside this process.
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._attach_stamps()
        self._forget_bands()

    def _attach_stamps(self) -> None:
        """One clock for the changes of every account's positions (never shared between
        engines: each engine's quiet bands compare its own stamps)."""
        self.stamps = Stamps()
        self._stamped = self.stamps.symbols
        for desk in self.desks.values():
            desk.account.attach(self.stamps)

    def _drop_allocation(self, desk: AccountDesk) -> None:
        """The account's allocation no longer holds: neither do the bands cut to it."""
        allocation = self._allocations.pop(desk.name)
        for cut in allocation.bands:
            self._mark_bands.pop((str(desk.account.venue), cut), None)

    def _forget_symbols(self, venue: str, symbol: str, out: list[EngineEvent]) -> None:
        """A tick did something: drop the bands of every symbol its events touched (orders
        moved, filled or cancelled); what the ledger changed drops itself (the engine's Stamps)."""
        for touched in {symbol, *(s for event in out for s in _symbols_of(event))}:
            self._mark_bands.pop((venue, touched), None)
            self._last_bands.pop((venue, touched), None)

    def _forget_bands(self) -> None:
        self._mark_bands: dict[tuple[str, str], _QuietMark] = {}
        self._last_bands: dict[tuple[str, str], tuple[int, Band]] = {}
        self._allocations: dict[str, Allocation] = {}
        self._backoff: dict[tuple[str, str], tuple[int, int]] = {}  # (level, ticks to wait)

    def reads(self, event: object) -> bool:
        """Whether `step` would look at this event (the rest need not be journaled)."""
        return type(event) in self._handlers

    def _load_instruments(self, command: LoadInstruments) -> list[EngineEvent]:
        account = self._desk(command.account).account
        account.load_instruments({i.symbol: i for i in command.instruments})
        return []

    def desks_on(self, venue: str) -> tuple[AccountDesk, ...]:
        return self._by_venue.get(venue, ())

    # -- market data -----------------------------------------------------------------------------

    def _on_mark(self, event: MarkPrice) -> list[EngineEvent]:
        mark, index = event.mark_price, event.index_price
        if mark <= ZERO:
            _positive(mark, "mark price", event.symbol)
        prices = self.prices.get(event.venue, event.symbol)
        prices.mark = mark
        if index is not None:
            prices.index = index
        prices.ts_event = event.ts_event
        settle = self._funding_due(event)
        key = (event.venue, event.symbol)
        quiet = self._mark_bands.get(key)
        if (
            quiet is not None
            and settle is None
            and quiet.stamp == self._stamped.get(event.symbol, 0)
            and quiet.mark[0] < mark < quiet.mark[1]
            and (index is None or quiet.index[0] < index < quiet.index[1])
        ):
            quiet.used = True
            for account in quiet.accounts:
                account.set_mark(event.symbol, mark)
            return []
        out = self._mark_in_full(event, prices, settle)
        # Before anything else: a cross allocation this mark has left guards nothing any more,
        # whether or not bands are computed now (MAX_BACKOFF).
        for desk in self.desks_on(event.venue):
            allocation = self._allocations.get(desk.name)
            if allocation is not None and allocation.left(event.symbol, mark):
                self._drop_allocation(desk)
        if out:
            self._forget_symbols(event.venue, event.symbol, out)
        else:
            self._learn_mark_band(key, quiet)
        return out

    # -- the shortcuts' seam: a subclass without them (the differential tests') learns no
    # band, and every tick is worked out in full ---------------------------------------------

    def _learn_mark_band(self, key: tuple[str, str], quiet: _QuietMark | None) -> None:
        """After a mark tick that changed nothing: the symbol's quiet band, now or after a
        backoff (MAX_BACKOFF)."""
        level, wait = self._backoff.get(key, (0, 0))
        if quiet is not None:  # there was a band, and this tick left it
            level = 0 if quiet.used else min(level + 1, MAX_BACKOFF)
            wait = (1 << level) - 1
            self._mark_bands.pop(key, None)
        if wait:
            self._backoff[key] = (level, wait - 1)
        else:
            self._backoff[key] = (level, 0)
            found = self._quiet_mark(*key)
            if found is not None:
                self._mark_bands[key] = found

    def _learn_last_band(
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
            self._last_bands[key] = (self._stamped.get(symbol, 0), band)

    def _mark_in_full(
        self, event: MarkPrice, prices: SymbolPrices, settle: Decimal | None
    ) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        for desk in self.desks_on(event.venue):
            if event.symbol not in desk.account.instruments:
                continue
            desk.account.set_mark(event.symbol, event.mark_price)
            if settle is not None:
                out += [
                    FundingSettled(event.ts_event, desk.name, f)
                    for f in desk.account.apply_funding(event.symbol, settle, event.mark_price)
                ]
            out += desk.on_price(
                event.symbol, PriceSource.MARK, event.mark_price, event.ts_event, prices
            )
            if event.index_price is not None:
                out += desk.on_price(
                    event.symbol, PriceSource.INDEX, event.index_price, event.ts_event, prices
                )
            out += self._liquidate(desk, event.ts_event, prices.last)
        return out

    def _quiet_mark(self, venue: str, symbol: str) -> _QuietMark | None:
        """The symbol's quiet mark and index bands as things are now, if every account has one.
        (That a mark has left a cross allocation is checked apart, at every worked-out tick.)"""
        stamp = self._stamped.get(symbol, 0)
        mark_band = index_band = EVERYWHERE
        accounts: list[Account] = []
        for desk in self.desks_on(venue):
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
        return _QuietMark(stamp, mark_band, index_band, tuple(accounts))

    def _unliquidated_band(self, desk: AccountDesk, symbol: str) -> Band | None:
        """Marks of the symbol at which none of the account's positions can be liquidated (its
        cross positions: while its other cross marks stay in their allocated bands)."""
        account = desk.account
        mark = account.marks[symbol]
        band = EVERYWHERE
        if account.has_cross_on(symbol):
            # One this mark has left was dropped before (`_on_mark`); a stale one goes here.
            allocation = self._allocations.get(desk.name)
            if allocation is None or allocation.stamp != account.ledger_epoch():
                if allocation is not None:
                    self._drop_allocation(desk)
                allocation = allocate(account, account.ledger_epoch(), None, ONE)
                if allocation is None:
                    return None
                self._allocations[desk.name] = allocation
            band = allocation.bands[symbol]
        for position in account.positions_of(symbol):
            if position.margin_mode is MarginMode.ISOLATED:
                width = isolated_width(account, position, None, ONE)
                if width is None:
                    return None
                band = within(band, around(mark, width))
        return band

    def _funding_due(self, event: MarkPrice) -> Decimal | None:
        key = (event.venue, event.symbol)
        previous = self._funding.get(key)
        if event.next_funding_time is not None:
            self._funding[key] = (event.next_funding_time, event.funding_rate)
        if previous is None or event.next_funding_time is None:
            return None
        due_at, rate = previous
        if event.next_funding_time > due_at and event.ts_event >= due_at and rate is not None:
            return rate
        return None

    def _liquidate(self, desk: AccountDesk, ts: int, last: Decimal | None) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        for liquidation in liquidate_changed(desk.account):
            symbols = {p.symbol for p in liquidation.positions}
            out += desk.cancel_where(ts, "position liquidated", symbols)
            out.append(PositionLiquidated(ts, desk.name, last, liquidation))
        return out

    def _on_trade(self, event: Trade) -> list[EngineEvent]:
        return self._on_last_price(event.venue, event.symbol, event.price, event.ts_event, True)

    def _on_last(self, event: LastPrice) -> list[EngineEvent]:
        return self._on_last_price(event.venue, event.symbol, event.price, event.ts_event, False)

    def _on_last_price(
        self, venue: str, symbol: str, price: Decimal, ts: int, traded: bool
    ) -> list[EngineEvent]:
        """Last-price triggers of every account, then (on a trade) the limits it printed
        through. Only accounts with orders on the symbol have anything to look at."""
        if price <= ZERO:
            _positive(price, "last price", symbol)
        prices = self._board.get((venue, symbol))
        if prices is None:
            prices = self.prices.get(venue, symbol)
        prices.last = price
        prices.ts_event = ts
        key = (venue, symbol)
        quiet = self._last_bands.get(key)
        if (
            quiet is not None
            and quiet[0] == self._stamped.get(symbol, 0)
            and quiet[1][0] < price < quiet[1][1]
        ):
            return []
        watching = [d for d, orders in self._orders_by_venue.get(venue, ()) if orders.get(symbol)]
        if not watching:
            return []
        out: list[EngineEvent] = []
        for desk in watching:
            out += desk.on_price(symbol, PriceSource.LAST, price, ts, prices)
        if traded:
            for desk in watching:
                out += desk.on_trade(symbol, price, ts)
        if out:
            self._forget_symbols(venue, symbol, out)
        else:
            self._learn_last_band(key, symbol, watching)
        return out

    def _on_book(self, event: BookTop) -> list[EngineEvent]:
        bid, ask = event.bid_price, event.ask_price
        if bid is not None and bid <= ZERO:
            _positive(bid, "best bid", event.symbol)
        if ask is not None and ask <= ZERO:
            _positive(ask, "best ask", event.symbol)
        prices = self._board.get((event.venue, event.symbol))
        if prices is None:
            prices = self.prices.get(event.venue, event.symbol)
        prices.bid, prices.ask = bid, ask
        return []

    # -- commands --------------------------------------------------------------------------------

    def _desk(self, name: str) -> AccountDesk:
        try:
            return self.desks[name]
        except KeyError:
            raise MarginbotError(
                f"no account named {name!r}; accounts: {', '.join(self.desks)}"
            ) from None

    def _prices_for(self, desk: AccountDesk, symbol: str) -> Any:
        key = (str(desk.account.venue), symbol)
        prices = self._board.get(key)
        if prices is None:
            if symbol not in desk.account.instruments:
                return SymbolPrices()  # the order is refused: it leaves no trace on the board
            prices = self.prices.get(*key)
        return prices

    def _place(self, command: PlaceOrder) -> list[EngineEvent]:
        desk = self._desk(command.account)
        return desk.place(
            command.request, command.ts, self._prices_for(desk, command.request.symbol)
        )

    def _cancel(self, command: CancelOrder) -> list[EngineEvent]:
        desk = self._desk(command.account)
        events = desk.cancel(command.order_id, command.ts, "canceled by the trader")
        if not events:
            return [
                CommandRefused(
                    command.ts,
                    desk.name,
                    "cancel_order",
                    f"{command.order_id} is not an open order",
                )
            ]
        return events

    def _held(
        self, command: ClosePosition | SetTakeProfitStopLoss, name: str
    ) -> Position | CommandRefused:
        """The position a command acts on, or its refusal."""
        position = self._desk(command.account).account.position(command.symbol, command.slot)
        if position is None:
            return CommandRefused(
                command.ts,
                command.account,
                name,
                f"no {slot_words(command.slot)}position open on {command.symbol}; open one first",
            )
        return position

    def _close(self, command: ClosePosition) -> list[EngineEvent]:
        desk = self._desk(command.account)
        position = self._held(command, "close_position")
        if isinstance(position, CommandRefused):
            return [position]
        side = OrderSide.SELL if position.side is Side.LONG else OrderSide.BUY
        request = OrderRequest(
            command.symbol,
            side,
            OrderType.MARKET,
            position.qty,
            reduce_only=True,
            slot=command.slot,
        )
        return desk.place(request, command.ts, self._prices_for(desk, command.symbol))

    def _setting(self, command: Any, name: str, change: Callable[[], Any]) -> list[EngineEvent]:
        try:
            return [SettingChanged(command.ts, command.account, change())]
        except MarginbotError as exc:
            return [CommandRefused(command.ts, command.account, name, str(exc))]

    def _leverage(self, command: SetLeverage) -> list[EngineEvent]:
        account = self._desk(command.account).account
        return self._setting(
            command, "set_leverage", lambda: account.set_leverage(command.symbol, command.leverage)
        )

    def _margin_mode(self, command: SetMarginMode) -> list[EngineEvent]:
        account = self._desk(command.account).account
        return self._setting(
            command,
            "set_margin_mode",
            lambda: account.set_margin_mode(command.symbol, command.margin_mode),
        )

    def _position_mode(self, command: SetPositionMode) -> list[EngineEvent]:
        account = self._desk(command.account).account
        return self._setting(
            command, "set_position_mode", lambda: account.set_position_mode(command.position_mode)
        )

    def _adjust(self, command: AdjustIsolatedMargin) -> list[EngineEvent]:
        account = self._desk(command.account).account
        if command.amount >= ZERO:
            return self._setting(
                command,
                "adjust_margin",
                lambda: account.add_isolated_margin(command.symbol, command.amount, command.slot),
            )
        return self._setting(
            command,
            "adjust_margin",
            lambda: account.remove_isolated_margin(command.symbol, -command.amount, command.slot),
        )

    def _tpsl(self, command: SetTakeProfitStopLoss) -> list[EngineEvent]:
        desk = self._desk(command.account)
        position = self._held(command, "set_tp_sl")
        if isinstance(position, CommandRefused):
            return [position]
        out = desk.cancel_where(
            command.ts,
            "replaced by a new take-profit/stop-loss",
            [command.symbol],
            only_reducing=True,
        )
        self._brackets += 1
        bracket = f"{desk.name}-bracket-{self._brackets}"
        side = OrderSide.SELL if position.side is Side.LONG else OrderSide.BUY
        prices = self._prices_for(desk, command.symbol)
        for role, price, source, kind in (
            (
                "take_profit",
                command.take_profit,
                command.take_profit_source,
                OrderType.TAKE_PROFIT_MARKET,
            ),
            ("stop_loss", command.stop_loss, command.stop_loss_source, OrderType.STOP_MARKET),
        ):
            if price is None:
                continue
            request = OrderRequest(
                command.symbol,
                side,
                kind,
                None,
                trigger_price=price,
                trigger_source=source,
                close_position=True,
                slot=command.slot,
            )
            out += desk.place(request, command.ts, prices, role=role, bracket=bracket)
        return out


def _symbols_of(event: EngineEvent) -> tuple[str, ...]:
    if isinstance(event, PositionLiquidated):
        return tuple(p.symbol for p in event.liquidation.positions)
    if isinstance(event, FundingSettled):
        return (event.funding.symbol,)
    if isinstance(event, OrderFilled):
        return (event.fill.symbol,)
    found = getattr(event, "symbol", None)
    return (found,) if isinstance(found, str) else ()


def _positive(price: Decimal, what: str, symbol: str) -> None:
    """A price of zero or less is bad input: refused before anything is changed."""
    if price <= ZERO:
        raise InputError(f"{symbol} {what} {price} is not positive; the input is skipped")
