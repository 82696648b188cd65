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

from collections.abc import Callable, Mapping
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
    PositionLiquidated,
    PositionPartiallyLiquidated,
    SettingChanged,
)
from bot.core.events import PartialLiquidation
from bot.core.ledger.account import Account, Position
from bot.core.ledger.liquidation import liquidate_changed
from bot.core.ledger.position_index import Stamps
from bot.core.market import BookTop, LastPrice, MarketEvent, MarkPrice, Trade
from bot.core.orders.desk import AccountDesk
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.prices import PriceBoard, SymbolPrices
from bot.core.speed.quiet_ticks import QuietTicks
from bot.core.values import ZERO, OrderSide, Side, slot_words
from bot.errors import InputError, MarginbotError

Input = MarketEvent | Command | LoadInstruments
_MARKET_INPUTS = frozenset({MarkPrice, Trade, LastPrice, BookTop})


_DERIVED = ("quiet", "stamps", "_stamped", "_quiet_class", "_mark_inside", "_last_bands")


class Engine:
    def __init__(
        self,
        accounts: Mapping[str, Account],
        slippage_bps: Decimal = ZERO,
        quiet: type[QuietTicks] = QuietTicks,
    ) -> None:
        """`quiet`: the quiet ticks' class (bot/core/speed; the differential tests give one
        that never learns a band)."""
        self.desks = {name: AccountDesk(name, a, slippage_bps) for name, a in accounts.items()}
        self._quiet_class = quiet
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
            self.quiet.forget_all()  # orders, settings or instruments may change
        return handler(event)

    def __getstate__(self) -> dict[str, object]:
        # The bands hold ledger stamps, which only mean something inside this process.
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._quiet_class = QuietTicks
        self._attach_stamps()

    def _attach_stamps(self) -> None:
        """One clock for the changes of every account's positions (never shared between
        engines: each engine's quiet bands compare its own stamps)."""
        self.stamps = Stamps()
        self._stamped = self.stamps.symbols
        for desk in self.desks.values():
            desk.account.attach(self.stamps)
        self.quiet = self._quiet_class(self)
        # Bound once: asked at every mark and every trade.
        self._mark_inside = self.quiet.mark_inside
        self._last_bands = self.quiet.last_bands

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
        if settle is None and self._mark_inside(event):
            return []  # inside the symbol's quiet band: the marks are recorded, nothing else
        out = self._mark_in_full(event, prices, settle)
        self.quiet.after_mark(event, out)
        return out

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
        for outcome in liquidate_changed(desk.account):
            if isinstance(outcome, PartialLiquidation):
                # The venues cancel the symbol's orders before the first step.
                out += desk.cancel_where(ts, "position partially liquidated", {outcome.symbol})
                out.append(PositionPartiallyLiquidated(ts, desk.name, last, outcome))
                continue
            symbols = {p.symbol for p in outcome.positions}
            out += desk.cancel_where(ts, "position liquidated", symbols)
            out.append(PositionLiquidated(ts, desk.name, last, outcome))
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
        # The quiet ticks' last-price band (bot/core/speed/quiet_ticks.py), read here: this
        # runs at every trade, and a call costs more than the comparison.
        quiet = self._last_bands.get((venue, symbol))
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
        self.quiet.after_last(venue, symbol, watching, out)
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


def _positive(price: Decimal, what: str, symbol: str) -> None:
    """A price of zero or less is bad input: refused before anything is changed."""
    if price <= ZERO:
        raise InputError(f"{symbol} {what} {price} is not positive; the input is skipped")
