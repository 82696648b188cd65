"""The margin ledger: one settlement asset's wallet, its positions and the exchange's rules.

An `Account` is what Binance calls the USDT (single-asset mode) futures wallet, and Bybit the
USDT part of a derivatives account: a cross wallet, isolated margins carved out of it, and the
positions they back. It books fills, funding and margin transfers exactly, in 8 decimals as the
venues do, and refuses what the venues refuse. Valuation at mark prices lives in `figures.py`
and liquidation in `liquidation.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

from bot.core.events import (
    Fill,
    FillApplied,
    FundingApplied,
    IsolatedMarginChanged,
    LeverageChanged,
    MarginModeChanged,
    PositionModeChanged,
)
from bot.core.instruments import Instrument
from bot.core.ledger.cross_totals import NOTHING, CrossTotals, Share, sum_exact
from bot.core.ledger.margin import Leg, MarginFormulas, default_account_type, formulas_for
from bot.core.ledger.position_index import PositionIndex
from bot.core.ledger.positions import DEFAULT_FEES, FeeSchedule, Position, SymbolSettings
from bot.core.values import (
    ONE,
    ZERO,
    AccountType,
    MarginMode,
    OrderSide,
    PositionMode,
    PositionSlot,
    Side,
    Venue,
    div,
    fmt,
    money,
    price,
    slot_words,
)
from bot.errors import (
    InputError,
    InsufficientBalance,
    LeverageRefused,
    MarginAdjustmentRefused,
    MarginbotError,
    ModeChangeRefused,
    PositionError,
    UnknownInstrument,
)

MEMO_LIMIT = 100_000


class Account(PositionIndex):
    """Wallet, settings and positions of one account in one settlement asset."""

    def __init__(
        self,
        venue: Venue,
        instruments: Mapping[str, Instrument],
        wallet_balance: Decimal,
        *,
        settle_asset: str = "USDT",
        position_mode: PositionMode = PositionMode.ONE_WAY,
        fees: FeeSchedule | None = None,
        default_leverage: Decimal = Decimal(20),
        default_margin_mode: MarginMode = MarginMode.CROSS,
        account_type: AccountType | None = None,
    ) -> None:
        if wallet_balance < ZERO:
            raise InputError(f"wallet balance {fmt(wallet_balance)} is negative; deposit first")
        foreign = sorted(s for s, i in instruments.items() if i.settle != settle_asset)
        if foreign:
            raise InputError(
                f"{', '.join(foreign)} settle in another asset than {settle_asset}; "
                "an account holds one settlement asset: use one account per asset"
            )
        if account_type is not None and venue is not Venue.BYBIT:
            raise InputError(
                f"account type {account_type} is Bybit's; {venue} accounts have one type: "
                "leave account_type out"
            )
        self.venue = venue
        self.account_type = account_type or default_account_type(venue)
        self.settle_asset = settle_asset
        self.formulas: MarginFormulas = formulas_for(venue, self.account_type)
        self.instruments = dict(instruments)
        self.wallet_balance = money(wallet_balance)
        self.position_mode = position_mode
        self.fees = fees or DEFAULT_FEES[venue]
        self.default_settings = SymbolSettings(default_margin_mode, default_leverage)
        self.marks: dict[str, Decimal] = {}
        self._settings: dict[str, SymbolSettings] = {}
        self._positions: dict[tuple[str, PositionSlot], Position] = {}
        self._open_orders: dict[str, int] = {}
        # A taker fee rate per symbol where it differs from the account's (the calculator's
        # per-position `taker_fee_rate`): it prices the fee to close in the requirement.
        self.taker_fee_rates: dict[str, Decimal] = {}
        self._derive()

    def _derive(self) -> None:
        """Indexes and sums kept beside the positions (rebuilt, never stored)."""
        self._maintenance: dict[tuple[object, ...], Decimal] = {}
        self._build_index()
        self._cross = CrossTotals(self._cross_share, self._cross_count.keys)

    def __getstate__(self) -> dict[str, object]:
        # The formulas are a module chosen by the venue: the state names the venue instead.
        derived = ("formulas", "_maintenance", "_cross", *self.DERIVED)
        return {k: v for k, v in self.__dict__.items() if k not in derived}

    def __setstate__(self, state: dict[str, object]) -> None:
        for stale in ("_revision", "_cross_totals"):  # snapshots written before the indexes
            state.pop(stale, None)
        # Bybit accounts saved before account types were classic ones (and their isolated
        # margins were allocated without the fee to close).
        was_bybit = state["venue"] is Venue.BYBIT
        state.setdefault("account_type", AccountType.CLASSIC if was_bybit else None)
        state.setdefault("taker_fee_rates", {})
        self.__dict__.update(state)
        self.formulas = formulas_for(self.venue, self.account_type)
        self._derive()

    # -- lookups ------------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise UnknownInstrument(
                f"no instrument data for {symbol} on {self.venue}; load markets or add it to "
                "the instrument snapshot"
            ) from None

    def settings(self, symbol: str) -> SymbolSettings:
        return self._settings.get(symbol, self.default_settings)

    def positions(self) -> Iterator[Position]:
        return iter(self._positions.values())

    def position(self, symbol: str, slot: PositionSlot = PositionSlot.BOTH) -> Position | None:
        return self._positions.get((symbol, slot))

    def held(self, symbol: str, slot: PositionSlot = PositionSlot.BOTH) -> Position:
        """The open position in the slot; refuses when there is none."""
        position = self.position(symbol, slot)
        if position is None:
            raise PositionError(f"no {slot_words(slot)}position is open on {symbol}")
        return position

    def mark(self, symbol: str, fallback: Decimal) -> Decimal:
        return self.marks.get(symbol, fallback)

    def taker_fee_rate(self, symbol: str) -> Decimal:
        return self.taker_fee_rates.get(symbol, self.fees.taker)

    def leg(self, position: Position) -> Leg:
        tiers = self.instrument(position.symbol).tiers
        return Leg(
            position.side,
            position.qty,
            position.entry_price,
            tiers,
            position.leverage,
            self.taker_fee_rate(position.symbol),
        )

    def open_order_count(self, symbol: str) -> int:
        return self._open_orders.get(symbol, 0)

    def open_orders(self) -> Mapping[str, int]:
        """Open orders per symbol, live: the engine reads it at every trade."""
        return self._open_orders

    # -- prices and open orders (fed by the engine) ----------------------------------------------

    def set_mark(self, symbol: str, mark_price: Decimal) -> None:
        if mark_price <= ZERO:
            raise InputError(f"mark price of {symbol} must be positive, got {fmt(mark_price)}")
        self.marks[symbol] = mark_price
        self._changed(symbol)

    def load_instruments(self, instruments: Mapping[str, Instrument]) -> None:
        """Add or replace instruments (their tiers): every margin is due to be recomputed."""
        self.instruments.update(instruments)
        self._derive()

    def order_opened(self, symbol: str) -> None:
        self._open_orders[symbol] = self.open_order_count(symbol) + 1

    def order_closed(self, symbol: str) -> None:
        remaining = self.open_order_count(symbol) - 1
        if remaining < 0:
            raise PositionError(f"{symbol} has no open order to close")
        self._open_orders[symbol] = remaining

    # -- cross aggregates -----------------------------------------------------------------------

    def cross_positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.margin_mode is MarginMode.CROSS]

    def initial_margin(self, position: Position) -> Decimal:
        mark = self.mark(position.symbol, position.entry_price)
        return self.formulas.initial_margin(self.leg(position), mark, position.leverage)

    def maintenance_margin(self, position: Position) -> Decimal:
        # Every cross check sums the maintenance margin of every cross position, at every tick
        # of any symbol; between ticks of its own symbol a position's margin does not change.
        # Memoized under everything the formula reads (the tiers are fixed per symbol). The key
        # holds no enum, so the collector untracks it: a long-running daemon's memo must not
        # lengthen every collection (and the tick that waits on it).
        mark = self.marks.get(position.symbol, position.entry_price)
        key = (
            position.symbol,
            position.side is Side.LONG,
            position.qty,
            position.entry_price,
            mark,
            position.leverage,  # the fee to close on a Bybit Unified account depends on it
        )
        cached = self._maintenance.get(key)
        if cached is None:
            if len(self._maintenance) >= MEMO_LIMIT:
                self._maintenance.clear()
            cached = self._maintenance[key] = self.formulas.maintenance_margin(
                self.leg(position), mark
            )
        return cached

    def cross_totals(self) -> Share:
        """Maintenance margin and unrealized PnL of the cross positions at the marks: exact
        sums, updated by the symbols that changed since the last read (`cross_totals.py`)."""
        return self._cross.totals()

    def cross_share(self, symbol: str) -> Share:
        """The symbol's own part of `cross_totals()`."""
        return self._cross.share(symbol)

    def _cross_share(self, symbol: str) -> Share:
        if symbol not in self._cross_count:
            return NOTHING
        cross = [p for p in self._by_symbol[symbol] if p.margin_mode is MarginMode.CROSS]
        mark = self.marks.get(symbol)
        return (
            sum_exact(self.maintenance_margin(p) for p in cross),
            sum_exact(p.unrealized_pnl(p.entry_price if mark is None else mark) for p in cross),
        )

    def available_balance(self) -> Decimal:
        """Cross wallet + cross unrealized PnL − initial margin of cross positions."""
        used = sum((self.initial_margin(p) for p in self.cross_positions()), ZERO)
        return self.wallet_balance + self.cross_totals()[1] - used

    # -- account-wide and per-symbol settings ---------------------------------------------------

    def set_position_mode(self, mode: PositionMode) -> PositionModeChanged:
        """Binance `POST /fapi/v1/positionSide/dual`: refused while any position or order exists."""
        if mode is self.position_mode:
            return PositionModeChanged(mode)
        if self._positions:
            held = ", ".join(p.describe() for p in self._positions.values())
            raise ModeChangeRefused(
                f"cannot switch to {mode} position mode while positions are open ({held}); "
                "close every position and cancel every order first"
            )
        with_orders = sorted(s for s, count in self._open_orders.items() if count)
        if with_orders:
            raise ModeChangeRefused(
                f"cannot switch to {mode} position mode while orders are open on "
                f"{', '.join(with_orders)}; cancel them first"
            )
        self.position_mode = mode
        return PositionModeChanged(mode)

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> MarginModeChanged:
        """Binance `POST /fapi/v1/marginType`: refused while the symbol has a position or order."""
        self.instrument(symbol)
        current = self.settings(symbol)
        if mode is current.margin_mode:
            return MarginModeChanged(symbol, mode)
        held = self.positions_of(symbol)
        if held:
            raise ModeChangeRefused(
                f"cannot switch {symbol} to {mode} margin while a position is open "
                f"({held[0].describe()}); close it first"
            )
        if self.open_order_count(symbol):
            raise ModeChangeRefused(
                f"cannot switch {symbol} to {mode} margin while it has "
                f"{self.open_order_count(symbol)} open order(s); cancel them first"
            )
        self._settings[symbol] = SymbolSettings(mode, current.leverage)
        return MarginModeChanged(symbol, mode)

    def set_leverage(self, symbol: str, leverage: Decimal) -> LeverageChanged:
        """Refuse leverage outside [1, max] or too high for an open position's notional tier."""
        instrument = self.instrument(symbol)
        limit = instrument.leverage_limit
        if leverage < ONE or (limit is not None and leverage > limit):
            allowed = f"1 to {fmt(limit)}" if limit is not None else "at least 1"
            raise LeverageRefused(
                f"leverage {fmt(leverage)}x is not allowed for {symbol}; choose {allowed}"
            )
        for position in self.positions_of(symbol):
            size = instrument.tier_size(position.qty, self.mark(symbol, position.entry_price))
            self._check_notional_fits(instrument, leverage, size)
        self._settings[symbol] = SymbolSettings(self.settings(symbol).margin_mode, leverage)
        for position in self.positions_of(symbol):
            position.leverage = leverage
        # A Bybit Unified account's requirement (the fee to close) moves with the leverage.
        self._ledger_changed(symbol)
        return LeverageChanged(symbol, leverage)

    @staticmethod
    def _check_notional_fits(instrument: Instrument, leverage: Decimal, notional: Decimal) -> None:
        """`notional` is the position's tier size (`Instrument.tier_size`): its value, or on
        OKX its size."""
        cap = instrument.tiers.max_notional_for_leverage(leverage)
        if cap is not None and notional > cap:
            lower = [
                t.max_leverage
                for t in instrument.tiers.tiers
                if t.max_leverage is not None
                and (t.notional_cap is None or t.notional_cap >= notional)
            ]
            hint = f"use at most {fmt(max(lower))}x" if lower else "reduce the position"
            raise LeverageRefused(
                f"{instrument.symbol} notional {fmt(money(notional))} exceeds {fmt(cap)}, the "
                f"maximum at {fmt(leverage)}x leverage; {hint} or reduce the position"
            )

    # -- isolated margin ------------------------------------------------------------------------

    def _isolated_position(self, symbol: str, slot: PositionSlot) -> Position:
        position = self.position(symbol, slot)
        if position is None:
            raise MarginAdjustmentRefused(
                f"no {slot_words(slot)}position on {symbol}; open one before adjusting its margin"
            )
        if position.margin_mode is not MarginMode.ISOLATED:
            raise MarginAdjustmentRefused(
                f"{symbol} is in cross margin: its margin is the whole cross wallet and cannot "
                "be adjusted; switch to isolated before opening to manage margin per position"
            )
        return position

    def add_isolated_margin(
        self, symbol: str, amount: Decimal, slot: PositionSlot = PositionSlot.BOTH
    ) -> IsolatedMarginChanged:
        """Binance `POST /fapi/v1/positionMargin` type 1: any time, from the available balance."""
        position = self._isolated_position(symbol, slot)
        amount = self._positive_amount(amount, "margin to add")
        available = self.available_balance()
        if amount > available:
            raise InsufficientBalance(
                f"cannot add {fmt(amount)} {self.settle_asset} to {symbol}: only "
                f"{fmt(money(max(available, ZERO)))} is available"
            )
        position.isolated_margin += amount
        self.wallet_balance -= amount
        self._ledger_changed(symbol)
        return IsolatedMarginChanged(
            symbol, slot, amount, position.isolated_margin, self.wallet_balance
        )

    def removable_isolated_margin(self, position: Position) -> Decimal:
        """Margin beyond what keeps the position at its initial margin requirement.

        Rule followed (Binance `positionMargin` type 2 and Bybit `add-margin` with a negative
        amount; the exact limit is not published, see docs/margin.md): after removal, isolated
        margin plus any unrealized loss must still cover the initial margin at the mark price.
        """
        mark = self.mark(position.symbol, position.entry_price)
        loss = min(position.unrealized_pnl(mark), ZERO)
        free = position.isolated_margin + loss - self.initial_margin(position)
        return money(max(free, ZERO))

    def remove_isolated_margin(
        self, symbol: str, amount: Decimal, slot: PositionSlot = PositionSlot.BOTH
    ) -> IsolatedMarginChanged:
        position = self._isolated_position(symbol, slot)
        amount = self._positive_amount(amount, "margin to remove")
        removable = self.removable_isolated_margin(position)
        if amount > removable:
            raise MarginAdjustmentRefused(
                f"cannot remove {fmt(amount)} {self.settle_asset} from {symbol}: at most "
                f"{fmt(removable)} can be removed while the position keeps its initial margin"
            )
        position.isolated_margin -= amount
        self.wallet_balance += amount
        self._ledger_changed(symbol)
        return IsolatedMarginChanged(
            symbol, slot, -amount, position.isolated_margin, self.wallet_balance
        )

    @staticmethod
    def _positive_amount(amount: Decimal, what: str) -> Decimal:
        if amount <= ZERO:
            raise InputError(f"{what} must be positive, got {fmt(amount)}")
        return money(amount)

    # -- fills ----------------------------------------------------------------------------------

    def _slot_for(self, fill: Fill) -> PositionSlot:
        if self.position_mode is PositionMode.ONE_WAY:
            if fill.slot is not PositionSlot.BOTH:
                raise PositionError(
                    f"the account is in one-way mode; send {fill.symbol} orders without a "
                    f"position side (got {fill.slot})"
                )
            return PositionSlot.BOTH
        if fill.slot is PositionSlot.BOTH:
            raise PositionError(
                f"the account is in hedge mode; say whether the {fill.symbol} order is for the "
                "long or the short position"
            )
        return fill.slot

    def check_can_open(self, fill: Fill) -> None:
        """Refuse an opening trade the venue would refuse: tier leverage limit and margin."""
        instrument = self.instrument(fill.symbol)
        slot = self._slot_for(fill)
        current = self.position(fill.symbol, slot)
        settings = self.settings(fill.symbol)
        opening = self._opening_qty(fill, slot, current)
        if opening == ZERO:
            return
        held = current.qty if current is not None and current.side is fill.side.opens else ZERO
        size = instrument.tier_size(held + opening, fill.price)
        self._check_notional_fits(instrument, settings.leverage, size)
        needed = div(opening * fill.price, settings.leverage)
        needed += self._close_fee_reserve(fill.symbol, fill.side.opens, opening, fill.price)
        needed += fill.qty * fill.price * self.fees.rate(fill.liquidity)
        available = self.available_balance()
        if needed > available:
            raise InsufficientBalance(
                f"opening {fmt(opening)} {fill.symbol} at {fmt(fill.price)} needs "
                f"{fmt(money(needed))} {self.settle_asset} of margin and fees but only "
                f"{fmt(money(max(available, ZERO)))} is available; lower the size or the price, "
                "raise the leverage, or add funds"
            )

    @staticmethod
    def _opening_qty(fill: Fill, slot: PositionSlot, current: Position | None) -> Decimal:
        if slot is PositionSlot.BOTH:
            if current is None or current.side is fill.side.opens:
                return fill.qty
            return max(fill.qty - current.qty, ZERO)
        opens_slot = (slot is PositionSlot.LONG) == (fill.side is OrderSide.BUY)
        return fill.qty if opens_slot else ZERO

    def apply_fill(self, fill: Fill) -> FillApplied:
        """Book a trade: fee, realized PnL, isolated margin and the position's new state.

        Every check runs before anything changes, so a refused fill leaves the ledger untouched.
        """
        self._ledger_changed(fill.symbol)
        return self._apply_fill(fill)

    def _apply_fill(self, fill: Fill) -> FillApplied:
        self.instrument(fill.symbol)
        if fill.qty <= ZERO or fill.price <= ZERO:
            raise InputError(
                f"a fill needs a positive quantity and price, got {fmt(fill.qty)} at "
                f"{fmt(fill.price)}"
            )
        slot = self._slot_for(fill)
        current = self.position(fill.symbol, slot)
        opening = self._opening_qty(fill, slot, current)
        closing = fill.qty - opening
        if fill.reduce_only and opening > ZERO:
            raise PositionError(self._reduce_only_message(fill, current))
        if (
            slot is not PositionSlot.BOTH
            and closing > ZERO
            and (current is None or closing > current.qty)
        ):
            held = fmt(current.qty) if current is not None else "0"
            raise PositionError(
                f"cannot close {fmt(closing)} of the {slot} {fill.symbol} position: it holds "
                f"{held}; in hedge mode a close never opens the other side"
            )
        fee = money(fill.qty * fill.price * self.fees.rate(fill.liquidity))
        self.wallet_balance -= fee
        realized = ZERO
        if closing > ZERO and current is not None:
            realized = self._reduce(current, closing, fill.price)
        if opening > ZERO:
            side = fill.side.opens if slot is PositionSlot.BOTH else Side(slot.value)
            self._increase(fill.symbol, slot, side, opening, fill.price)
        after = self.position(fill.symbol, slot)
        return FillApplied(
            symbol=fill.symbol,
            slot=slot,
            side=fill.side,
            qty=fill.qty,
            price=fill.price,
            liquidity=fill.liquidity,
            fee=fee,
            realized_pnl=realized,
            position_side=after.side if after else None,
            position_qty=after.qty if after else ZERO,
            entry_price=after.entry_price if after else None,
            isolated_margin=after.isolated_margin if after else ZERO,
            wallet_balance=self.wallet_balance,
        )

    @staticmethod
    def _reduce_only_message(fill: Fill, current: Position | None) -> str:
        held = current.describe() if current is not None else "no position"
        return (
            f"reduce-only {fill.side} of {fmt(fill.qty)} {fill.symbol} would increase or open a "
            f"position ({held}); drop reduce-only or trade the other side"
        )

    def _close_fee_reserve(self, symbol: str, side: Side, qty: Decimal, at: Decimal) -> Decimal:
        """The estimated fee to close `qty` opened at `at`, where the venue reserves it in the
        initial margin (a Bybit Unified account); zero elsewhere."""
        if not self.formulas.reserves_close_fee:
            return ZERO
        tiers, leverage = self.instrument(symbol).tiers, self.settings(symbol).leverage
        leg = Leg(side, qty, at, tiers, leverage, self.taker_fee_rate(symbol))
        return self.formulas.close_fee(leg, at)

    def _increase(
        self, symbol: str, slot: PositionSlot, side: Side, qty: Decimal, fill_price: Decimal
    ) -> None:
        settings = self.settings(symbol)
        position = self.position(symbol, slot)
        allocated = ZERO
        if settings.margin_mode is MarginMode.ISOLATED:
            # Isolated margin allocated on open: the fill's notional / leverage (and the fee to
            # close where the venue reserves it), from the wallet.
            allocated = div(qty * fill_price, settings.leverage)
            allocated = money(allocated + self._close_fee_reserve(symbol, side, qty, fill_price))
            self.wallet_balance -= allocated
        if position is None:
            opened = Position(
                symbol,
                slot,
                side,
                qty,
                fill_price,
                settings.margin_mode,
                settings.leverage,
                allocated,
            )
            self._positions[(symbol, slot)] = opened
            self._index(opened)
            return
        total = position.qty + qty
        position.entry_price = price(
            div(position.qty * position.entry_price + qty * fill_price, total)
        )
        position.qty = total
        position.isolated_margin += allocated

    def _reduce(self, position: Position, qty: Decimal, fill_price: Decimal) -> Decimal:
        """Close `qty` of the position; return the realized PnL booked to the wallet."""
        realized = money(position.side.sign * qty * (fill_price - position.entry_price))
        self.wallet_balance += realized
        if qty == position.qty:
            self.wallet_balance += position.isolated_margin
            self.remove_position(position)
            return realized
        # Isolated margin is released in proportion to the size closed.
        released = money(div(position.isolated_margin * qty, position.qty))
        position.isolated_margin -= released
        self.wallet_balance += released
        position.qty -= qty
        return realized

    def pay_from_isolated_margin(self, position: Position, amount: Decimal) -> None:
        """Move a fee the wallet paid onto the isolated position's margin instead: a
        liquidation step's fee comes out of the position's margin, never the wallet."""
        position.isolated_margin -= amount
        self.wallet_balance += amount
        self._ledger_changed(position.symbol)

    # -- funding --------------------------------------------------------------------------------

    def apply_funding(
        self, symbol: str, funding_rate: Decimal, mark_price: Decimal
    ) -> list[FundingApplied]:
        """Settle funding for every position of the symbol open at the funding time.

        Funding = position size × mark price × funding rate; a positive rate means longs pay
        shorts. Cross positions settle against the wallet, isolated ones against their margin.
        """
        applied: list[FundingApplied] = []
        self._ledger_changed(symbol)
        for position in self.positions_of(symbol):
            amount = money(-position.signed_qty * mark_price * funding_rate)
            if position.margin_mode is MarginMode.ISOLATED:
                position.isolated_margin += amount
            else:
                self.wallet_balance += amount
            applied.append(
                FundingApplied(
                    symbol,
                    position.slot,
                    position.side,
                    position.qty,
                    mark_price,
                    funding_rate,
                    amount,
                    position.margin_mode,
                )
            )
        return applied

    # -- state restore and removal (used by the calculator, snapshots and liquidation) ----------

    def load_position(self, position: Position) -> None:
        """Put a position in place as it stands (from a snapshot or a calculator input)."""
        self._place_position(position)
        self._ledger_changed(position.symbol)

    def load_positions(self, positions: Sequence[Position]) -> None:
        """Many positions at once, in linear time: the cross stamps are renewed once, not once
        per position. A refusal names the position's index: `positions[3]: ...`."""
        for index, position in enumerate(positions):
            try:
                self._place_position(position)
            except MarginbotError as exc:
                raise type(exc)(f"positions[{index}]: {exc}") from None
        self._ledgers_changed([p.symbol for p in positions])

    def _place_position(self, position: Position) -> None:
        self.instrument(position.symbol)
        key = (position.symbol, position.slot)
        expected_slot = self.position_mode is PositionMode.HEDGE
        if (position.slot is not PositionSlot.BOTH) != expected_slot:
            raise PositionError(
                f"{position.symbol}: a {self.position_mode} account holds positions in "
                f"{'long/short' if expected_slot else 'both'} slots, not {position.slot}"
            )
        if key in self._positions:
            raise PositionError(
                f"{position.symbol} already has a {position.slot} position; in "
                f"{self.position_mode} mode a symbol holds one position per slot"
            )
        for other in self.positions_of(position.symbol):
            if other.margin_mode is not position.margin_mode:
                raise PositionError(
                    f"{position.symbol} positions must share one margin mode, got "
                    f"{other.margin_mode} and {position.margin_mode}"
                )
        self._settings[position.symbol] = SymbolSettings(position.margin_mode, position.leverage)
        self._positions[key] = position
        self._index(position)

    def remove_position(self, position: Position) -> None:
        del self._positions[(position.symbol, position.slot)]
        self._unindex(position)
        self._ledger_changed(position.symbol)


__all__ = ["DEFAULT_FEES", "Account", "FeeSchedule", "Position", "SymbolSettings"]
