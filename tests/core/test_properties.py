"""Ledger invariants under random trading, checked with hypothesis."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.events import Fill, FillApplied, FundingApplied
from bot.core.instruments import MaintenanceTier, TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.ledger.liquidation import (
    LiquidationTarget,
    cross_is_liquidatable,
    isolated_is_liquidatable,
    liquidate,
    liquidate_all,
    liquidate_changed,
    liquidation_price,
)
from bot.core.values import MarginMode, OrderSide, Venue
from bot.errors import RuleViolation
from tests.conftest import instrument

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BRACKETS = TierTable.from_floors_and_rates(
    [Decimal(0), Decimal(50_000), Decimal(250_000), Decimal(3_000_000)],
    [Decimal("0.004"), Decimal("0.005"), Decimal("0.01"), Decimal("0.025")],
)

venues = st.sampled_from(list(Venue))
modes = st.sampled_from(list(MarginMode))
qtys = st.integers(1, 5_000).map(lambda n: Decimal(n).scaleb(-3))  # 0.001 … 5
prices = st.integers(100_000, 10_000_000).map(lambda n: Decimal(n).scaleb(-2))  # 1,000 … 100,000
leverages = st.integers(1, 50).map(Decimal)
rates = st.integers(-300, 300).map(lambda n: Decimal(n).scaleb(-6))
fees = FeeSchedule(Decimal("0.0002"), Decimal("0.0005"))


# OKX's tiers are by size (base units here): edges inside the sizes drawn (0.001 … 5), with no
# maintenance amount, so the requirement steps at an edge as OKX's does.
OKX_SIZE_TIERS = TierTable(
    tuple(
        MaintenanceTier(floor, cap, rate, Decimal(0), None)
        for floor, cap, rate in (
            (Decimal(0), Decimal("0.5"), Decimal("0.004")),
            (Decimal("0.5"), Decimal(2), Decimal("0.01")),
            (Decimal(2), Decimal(4), Decimal("0.025")),
            (Decimal(4), None, Decimal("0.05")),
        )
    )
)


def new_account(venue: Venue, wallet: Decimal) -> Account:
    """Every venue with its own rules and the taker fee of `fees`: Binance's brackets, Bybit's
    Unified account (the fee to close in IM and MM), OKX's tiers by size (and the fee in the
    requirement)."""
    if venue is Venue.OKX:
        instruments = {
            s: replace(instrument(s, venue, OKX_SIZE_TIERS), tiers_by_quantity=True)
            for s in SYMBOLS
        }
    else:
        instruments = {s: instrument(s, venue, BRACKETS, Decimal("0.0125")) for s in SYMBOLS}
    return Account(venue, instruments, wallet, fees=fees)


trade = st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(list(OrderSide)), qtys, prices)
action = st.one_of(
    st.tuples(st.just("trade"), trade),
    st.tuples(st.just("funding"), st.tuples(st.sampled_from(SYMBOLS), rates, prices)),
    st.tuples(st.just("settings"), st.tuples(st.sampled_from(SYMBOLS), modes, leverages)),
    st.tuples(st.just("margin"), st.tuples(st.sampled_from(SYMBOLS), st.integers(-500, 500))),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(venue=venues, actions=st.lists(action, max_size=40))
def test_money_is_conserved_exactly(venue: Venue, actions: list) -> None:
    """wallet + isolated margins = start − fees + realized PnL + funding, to the last digit."""
    start = Decimal(1_000_000)
    account = new_account(venue, start)
    expected = start
    for kind, args in actions:
        try:
            if kind == "trade":
                symbol, side, qty, px = args
                event = account.apply_fill(Fill(symbol, side, qty, px))
                assert isinstance(event, FillApplied)
                expected += event.realized_pnl - event.fee
            elif kind == "funding":
                symbol, rate, mark = args
                for paid in account.apply_funding(symbol, rate, mark):
                    assert isinstance(paid, FundingApplied)
                    expected += paid.amount
            elif kind == "settings":
                symbol, mode, leverage = args
                account.set_margin_mode(symbol, mode)
                account.set_leverage(symbol, leverage)
            else:
                symbol, amount = args
                if amount > 0:
                    account.add_isolated_margin(symbol, Decimal(amount))
                elif amount < 0:
                    account.remove_isolated_margin(symbol, Decimal(-amount))
        except RuleViolation:
            pass  # refused operations change nothing, which the totals below also check
        held = sum((p.isolated_margin for p in account.positions()), Decimal(0))
        assert account.wallet_balance + held == expected


position = st.tuples(
    st.sampled_from(SYMBOLS), st.sampled_from(list(OrderSide)), qtys, prices, modes, leverages
)


def build(venue: Venue, wallet: Decimal, specs: list, checked: bool = False) -> Account:
    """An account holding the positions; `checked` opens only what the venue would accept."""
    account = new_account(venue, wallet)
    for symbol, side, qty, px, mode, leverage in specs:
        if account.positions_of(symbol):
            continue
        account.set_margin_mode(symbol, mode)
        account.set_leverage(symbol, leverage)
        account.set_mark(symbol, px)
        fill = Fill(symbol, side, qty, px)
        if checked:
            try:
                account.check_can_open(fill)
            except RuleViolation:
                continue
        account.apply_fill(fill)
    return account


def snapshot(account: Account, skip: str) -> list[tuple]:
    return sorted(
        (p.symbol, p.side, p.qty, p.entry_price, p.isolated_margin)
        for p in account.positions()
        if p.symbol != skip
    )


@settings(max_examples=200, deadline=None)
@given(venue=venues, specs=st.lists(position, min_size=1, max_size=3), crash=st.integers(1, 99))
def test_isolated_liquidation_changes_no_wallet_and_no_other_position(
    venue: Venue, specs: list, crash: int
) -> None:
    account = build(venue, Decimal(200_000), specs)
    for p in list(account.positions()):
        if p.margin_mode is not MarginMode.ISOLATED:
            continue
        moved = p.entry_price * (100 - crash if p.side.sign > 0 else 100 + crash) / 100
        account.set_mark(p.symbol, moved)
        if not isolated_is_liquidatable(account, p):
            continue
        wallet, others = account.wallet_balance, snapshot(account, p.symbol)
        event = liquidate(account, LiquidationTarget(MarginMode.ISOLATED, (p,)))
        assert account.wallet_balance == wallet
        assert snapshot(account, p.symbol) == others
        assert event.loss == p.isolated_margin
        assert event.clearance_fee + event.insurance_fund_gain - event.insurance_fund_cover == (
            event.margin_balance_at_mark
        )


@settings(max_examples=200, deadline=None)
@given(
    venue=venues,
    specs=st.lists(position, min_size=1, max_size=3),
    wallet=st.integers(10, 5_000),
    moves=st.lists(st.integers(1, 1_000), min_size=3, max_size=3),
)
def test_cross_liquidation_never_leaves_a_negative_wallet(
    venue: Venue, specs: list, wallet: int, moves: list[int]
) -> None:
    account = build(venue, Decimal(wallet), specs, checked=True)
    assert account.wallet_balance >= 0
    for symbol, move in zip(SYMBOLS, moves, strict=True):
        if symbol in account.marks:
            account.set_mark(symbol, account.marks[symbol] * move / 100)
    for event in liquidate_all(account):
        hypothesis.event(f"{event.margin_mode} liquidation")
        assert event.wallet_balance_after >= 0
    assert account.wallet_balance >= 0
    if any(p.margin_mode is MarginMode.CROSS for p in account.positions()):
        assert not cross_is_liquidatable(account)


RELATIVE = Decimal("1e-9")


@settings(max_examples=300, deadline=None)
@given(
    venue=venues, specs=st.lists(position, min_size=1, max_size=3), wallet=st.integers(0, 2_000_000)
)
def test_liquidation_price_is_where_the_predicate_flips(
    venue: Venue, specs: list, wallet: int
) -> None:
    account = build(venue, Decimal(wallet), specs)
    for p in list(account.positions()):
        lp = liquidation_price(account, p)

        def liquidated_at(mark: Decimal, p=p) -> bool:
            account.set_mark(p.symbol, mark)
            if p.margin_mode is MarginMode.ISOLATED:
                return isolated_is_liquidatable(account, p)
            return cross_is_liquidatable(account)

        original = account.marks[p.symbol]
        safer, riskier = (Decimal(1) + RELATIVE, Decimal(1) - RELATIVE)
        if p.side.sign < 0:
            safer, riskier = riskier, safer
        if lp is None:
            # No positive price liquidates it: a mark at the edge of the price range is safe.
            edge = Decimal("0.01") if p.side.sign > 0 else Decimal(10) ** 9
            assert not liquidated_at(edge)
        elif lp == 0:
            # Liquidatable at every price: even the most favourable mark liquidates it.
            assert liquidated_at(Decimal(10) ** 9 if p.side.sign > 0 else Decimal("0.01"))
        else:
            assert not liquidated_at(lp * safer)
            assert liquidated_at(lp * riskier)
        account.set_mark(p.symbol, original)


def act(account: Account, kind: str, args: tuple) -> None:
    """One random change to the account; what the venue would refuse is refused."""
    try:
        if kind == "trade":
            symbol, side, qty, px = args
            account.apply_fill(Fill(symbol, side, qty, px))
        elif kind == "mark":
            account.set_mark(*args)
        elif kind == "funding":
            account.apply_funding(*args)
        elif kind == "settings":
            symbol, mode, leverage = args
            account.set_margin_mode(symbol, mode)
            account.set_leverage(symbol, leverage)
        elif kind == "margin":
            symbol, amount = args
            if amount > 0:
                account.add_isolated_margin(symbol, Decimal(amount))
            elif amount < 0:
                account.remove_isolated_margin(symbol, Decimal(-amount))
        else:
            liquidate_all(account)
    except RuleViolation:
        pass


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    venue=venues,
    actions=st.lists(
        st.one_of(
            st.tuples(st.just("trade"), trade),
            st.tuples(st.just("mark"), st.tuples(st.sampled_from(SYMBOLS), prices)),
            st.tuples(st.just("settings"), st.tuples(st.sampled_from(SYMBOLS), modes, leverages)),
            st.tuples(st.just("liquidate"), st.just(None)),
        ),
        max_size=40,
    ),
)
def test_cached_cross_totals_equal_a_fresh_sum(venue: Venue, actions: list) -> None:
    """The cross totals read at every tick are cached; after any change they are the sums."""
    account = new_account(venue, Decimal(50_000))
    for kind, args in actions:
        act(account, kind, args)
        cross = account.cross_positions()
        fresh = (
            sum((account.maintenance_margin(p) for p in cross), Decimal(0)),
            sum(
                (p.unrealized_pnl(account.mark(p.symbol, p.entry_price)) for p in cross),
                Decimal(0),
            ),
        )
        assert account.cross_totals() == fresh


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    venue=venues,
    wallet=st.integers(2_000, 60_000).map(Decimal),
    actions=st.lists(
        st.one_of(
            action,
            st.tuples(st.just("mark"), st.tuples(st.sampled_from(SYMBOLS), prices)),
            st.tuples(st.just("mark"), st.tuples(st.sampled_from(SYMBOLS), prices)),
        ),
        max_size=40,
    ),
)
def test_checking_only_what_changed_liquidates_as_a_full_check(
    venue: Venue, wallet: Decimal, actions: list
) -> None:
    """The engine's tick checks only the isolated positions changed since its last check and
    reads the kept cross totals; after every change it liquidates exactly what a check of
    every position would, in the same order, leaving the same ledger."""
    account = new_account(venue, wallet)
    for kind, args in actions:
        act(account, kind, args)
        full = copy.deepcopy(account)
        liquidated = liquidate_changed(account)
        assert liquidated == liquidate_all(full)
        hypothesis.event(f"liquidations: {len(liquidated)}")
        assert account.wallet_balance == full.wallet_balance
        assert list(account.positions()) == list(full.positions())
        assert account.cross_totals() == full.cross_totals()
