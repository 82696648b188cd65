"""Quiet bands: the bound they rest on, and that skipping the ticks inside them changes nothing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.alerting.alert import Severity
from bot.core.alerting.settings import RuleBook, RuleSettings
from bot.core.commands import CancelOrder, PlaceOrder, SetTakeProfitStopLoss
from bot.core.engine import Engine
from bot.core.events import Fill
from bot.core.instruments import MaintenanceTier, TierTable
from bot.core.kernel import Kernel
from bot.core.ledger.account import Account, FeeSchedule, Position
from bot.core.ledger.figures import ratio
from bot.core.ledger.liquidation import liquidatable
from bot.core.market import LastPrice, MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.speed.bands import Band, allocate, around, isolated_width
from bot.core.values import MarginMode, OrderSide, PositionMode, PositionSlot, Venue
from tests.conftest import NO_FEES, instrument
from tests.core.in_full import engine_class, rules_class

D = Decimal
S = 1_000_000_000
OKX_FEES = FeeSchedule(D("0.0002"), D("0.0005"))
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BASE = {"BTCUSDT": D(10_000), "ETHUSDT": D(1_000), "SOLUSDT": D(100)}
# Narrow tiers, so that positions sit near tier edges and the bands must stop at them.
TIERS = TierTable.from_floors_and_rates(
    [D(0), D(5_000), D(20_000), D(60_000)], [D("0.004"), D("0.01"), D("0.025"), D("0.05")]
)


def _okx_tiers(symbol: str) -> TierTable:
    """TIERS as OKX has them: by size (the same edges at the base price), no amounts."""
    return TierTable(
        tuple(
            MaintenanceTier(
                t.notional_floor / BASE[symbol],
                None if t.notional_cap is None else t.notional_cap / BASE[symbol],
                t.maint_margin_rate,
                D(0),
                None,
            )
            for t in TIERS.tiers
        )
    )


def _account(venue: Venue, wallet: Decimal) -> Account:
    """OKX with its tiers by size and its taker fee in the requirement; Bybit's Unified
    account with its fee to close; Binance as it is."""
    if venue is Venue.OKX:
        instruments = {
            s: replace(instrument(s, venue, _okx_tiers(s)), tiers_by_quantity=True) for s in SYMBOLS
        }
        return Account(venue, instruments, wallet, fees=OKX_FEES, default_leverage=D(20))
    instruments = {s: instrument(s, venue, TIERS) for s in SYMBOLS}
    fees = OKX_FEES if venue is Venue.BYBIT else NO_FEES
    return Account(venue, instruments, wallet, fees=fees, default_leverage=D(20))


position_specs = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(list(OrderSide)),
        st.integers(1, 4000),  # qty in thousandths of a base-price unit of notional
        st.sampled_from(list(MarginMode)),
        st.integers(-300, 300),  # mark against entry, in 0.1 %
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda spec: spec[0],
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    venue=st.sampled_from(list(Venue)),
    wallet=st.integers(200, 20_000).map(D),
    specs=position_specs,
    ceiling_step=st.integers(1, 400),  # the ceiling above the ratio now, in 0.1 %
    floor_step=st.integers(1, 999),  # the floor below it, in 0.1 %
    moves=st.lists(st.lists(st.integers(-1000, 1000), min_size=3, max_size=3), max_size=20),
)
def test_the_margin_ratio_stays_inside_its_limits_for_every_mark_inside_the_bands(
    venue: Venue,
    wallet: Decimal,
    specs: list,
    ceiling_step: int,
    floor_step: int,
    moves: list[list[int]],
) -> None:
    """The bound `bands.py` proves, checked directly: wherever inside their bands the marks go
    (moves in thousandths of each band's half-width, the edges included), every isolated
    position's ratio and the cross ratio stay in [floor, ceiling), and with the ceiling 1
    nothing is liquidatable."""
    account = _account(venue, wallet)
    for symbol, side, qty, mode, mark_step in specs:
        account.set_margin_mode(symbol, mode)
        size = (D(qty) * 10 / BASE[symbol]).quantize(D("0.001")) or D("0.001")
        account.apply_fill(Fill(symbol, side, size, BASE[symbol]))
        account.set_mark(symbol, BASE[symbol] * (1 + D(mark_step) / 1000))
    isolated = [p for p in account.positions() if p.margin_mode is MarginMode.ISOLATED]

    def ratios() -> list[Decimal | None]:
        found = []
        for p in isolated:
            balance = p.isolated_margin + p.unrealized_pnl(account.marks[p.symbol])
            found.append(ratio(account.maintenance_margin(p), balance))
        if account.has_cross_positions():
            mm, upnl = account.cross_totals()
            found.append(ratio(mm, account.wallet_balance + upnl))
        return found

    now = ratios()
    for kind in ("levels", "liquidation"):
        bands, limits = _bands(account, isolated, now, floor_step, ceiling_step, kind)
        start = dict(account.marks)
        for move in moves:
            for (symbol, held), step in zip(sorted(bands.items()), move, strict=False):
                low = max(b[0] for b in held)
                high = min(b[1] for b in held)
                middle, half = (low + high) / 2, (high - low) / 2
                # The open band's edges themselves are never inside it: stop just short.
                account.set_mark(symbol, middle + half * D(step) / 1000 * D("0.999999"))
            after = ratios()
            checked = [(r, lim) for r, lim in zip(after, limits, strict=True) if lim is not None]
            for value, (floor, ceiling) in checked:
                if value is None:
                    continue  # no positive margin balance: no ratio to cross a level with
                assert floor is None or value >= floor
                assert ceiling is None or value < ceiling
            if kind == "liquidation" and len(checked) == len(after):
                assert not liquidatable(account)
        for symbol, mark in start.items():
            account.set_mark(symbol, mark)


Limits = tuple[Decimal | None, Decimal | None]


def _bands(
    account: Account,
    isolated: list[Position],
    now: list[Decimal | None],
    floor_step: int,
    ceiling_step: int,
    kind: str,
) -> tuple[dict[str, list[Band]], list[Limits | None]]:
    """Each symbol's bands, and the limits of each ratio that has bands (None: it has none)."""
    bands: dict[str, list[Band]] = {}
    limits: list[Limits | None] = []
    for p, current in zip(isolated, now, strict=False):
        floor, ceiling = _limits(current, floor_step, ceiling_step, kind)
        width = isolated_width(account, p, floor, ceiling)
        limits.append(None if width is None else (floor, ceiling))
        if width is not None:
            bands.setdefault(p.symbol, []).append(around(account.marks[p.symbol], width))
    if account.has_cross_positions():
        cross = _limits(now[-1], floor_step, ceiling_step, kind)
        allocation = allocate(account, 0, *cross)
        limits.append(None if allocation is None else cross)
        if allocation is not None:
            for symbol, band in allocation.bands.items():
                bands.setdefault(symbol, []).append(band)
    return bands, limits


def _limits(
    current: Decimal | None, floor_step: int, ceiling_step: int, kind: str
) -> tuple[Decimal | None, Decimal | None]:
    if kind == "liquidation":
        return None, D(1)
    if current is None:
        return None, None
    return current * (1 - D(floor_step) / 1000), current * (1 + D(ceiling_step) / 1000)


# -- the engine and the rules with their bands, against both without -------------------------


def _pair() -> list[Kernel]:
    pairs = []
    for banded in (True, False):
        accounts = {
            "iso": Account(Venue.BINANCE, {s: instrument(s, tiers=TIERS) for s in SYMBOLS},
                           D(3000), fees=NO_FEES, default_margin_mode=MarginMode.ISOLATED,
                           default_leverage=D(10)),
            "crs": Account(Venue.BINANCE, {s: instrument(s, tiers=TIERS) for s in SYMBOLS},
                           D(2500), fees=NO_FEES, default_leverage=D(20)),
            "hdg": Account(Venue.BINANCE, {s: instrument(s, tiers=TIERS) for s in SYMBOLS},
                           D(1500), fees=NO_FEES, default_leverage=D(20),
                           position_mode=PositionMode.HEDGE),
        }  # fmt: skip
        engine = engine_class(banded)(accounts)
        book = RuleBook(RuleSettings(cooldown_s=2, hysteresis=D("0.1")))
        kernel = Kernel(engine, book, rules=rules_class(banded))
        pairs.append(kernel)
    return pairs


def _opening(ts: int) -> list[object]:
    """Prices, positions and orders of every kind: brackets on mark and last, a trailing stop,
    a stop on the index, resting limits; a hedge-mode account long and short one symbol."""
    inputs: list[object] = []
    for symbol, price in BASE.items():
        inputs += [
            MarkPrice("binance", symbol, price, price, None, None, ts, ts),
            Trade("binance", symbol, price, D(1), None, "0", ts, ts),
        ]

    def order(account: str, request: OrderRequest) -> PlaceOrder:
        return PlaceOrder(account, request, ts)

    buy, sell = OrderSide.BUY, OrderSide.SELL
    long, short = PositionSlot.LONG, PositionSlot.SHORT
    inputs += [
        order("hdg", OrderRequest("BTCUSDT", buy, OrderType.MARKET, D("0.3"), slot=long)),
        order("hdg", OrderRequest("BTCUSDT", sell, OrderType.MARKET, D("0.2"), slot=short)),
        order("hdg", OrderRequest("ETHUSDT", buy, OrderType.MARKET, D(2), slot=long)),
        SetTakeProfitStopLoss("hdg", "BTCUSDT", ts, None, D(9_700), slot=long),
        order("iso", OrderRequest("BTCUSDT", buy, OrderType.MARKET, D("0.5"))),
        order("iso", OrderRequest("SOLUSDT", sell, OrderType.MARKET, D(20))),
        order("crs", OrderRequest("BTCUSDT", buy, OrderType.MARKET, D("0.6"))),
        order("crs", OrderRequest("ETHUSDT", sell, OrderType.MARKET, D(4))),
        SetTakeProfitStopLoss("iso", "BTCUSDT", ts, D(10_400), D(9_600)),
        SetTakeProfitStopLoss(
            "crs", "ETHUSDT", ts, D(960), D(1_040), PriceSource.MARK, PriceSource.LAST
        ),
        order(
            "crs",
            OrderRequest(
                "BTCUSDT",
                sell,
                OrderType.TRAILING_STOP_MARKET,
                D("0.2"),
                callback_rate=D("0.01"),
                reduce_only=True,
            ),
        ),
        order(
            "iso",
            OrderRequest(
                "SOLUSDT",
                buy,
                OrderType.TRAILING_STOP_MARKET,
                D(5),
                callback_rate=D("0.02"),
                activation_price=D(98),
                reduce_only=True,
            ),
        ),
        order(
            "crs",
            OrderRequest(
                "SOLUSDT",
                buy,
                OrderType.STOP_MARKET,
                D(3),
                trigger_price=D(103),
                trigger_source=PriceSource.INDEX,
            ),
        ),
        order("crs", OrderRequest("ETHUSDT", buy, OrderType.LIMIT, D(1), price=D(985))),
        order(
            "iso",
            OrderRequest(
                "BTCUSDT", sell, OrderType.LIMIT, D("0.1"), price=D(10_150), reduce_only=True
            ),
        ),
    ]
    return inputs


tick = st.tuples(
    st.sampled_from(
        ["mark"] * 4 + ["mark+index"] + ["trade"] * 4 + ["last", "order", "cancel", "booked"]
    ),
    st.sampled_from(SYMBOLS),
    st.sampled_from([-40, -8, -3, -2, -1, 0, 1, 2, 3, 8, 40]),  # price step, in 0.1 %
    st.integers(0, 3),  # seconds to the next tick
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tick, min_size=1, max_size=200))
@example([("mark", "BTCUSDT", -40, 1)] * 12 + [("trade", "ETHUSDT", 40, 1)] * 6)
@example([("mark+index", "SOLUSDT", 3, 1)] * 12)  # the index reaches a stop the mark does not
@example([("trade", "ETHUSDT", -3, 1)] * 7)  # down through a resting buy limit
def test_the_bands_change_no_output_and_no_ledger(path: list[tuple[str, str, int, int]]) -> None:
    """The engine and the rules with their bands give the same events, alerts, orders and
    ledger, at every step, as both working out every tick in full: through triggers, trailing
    stops, limit fills, liquidations, new and cancelled orders."""
    pairs = _pair()
    ts = 0
    marks, lasts = dict(BASE), dict(BASE)
    steps: list[list[object]] = [_opening(ts)]
    for kind, symbol, step, wait in path:
        ts += wait * S
        move = 1 + D(step) / 1000
        if kind in ("mark", "mark+index"):
            marks[symbol] = (marks[symbol] * move).quantize(D("0.1"))
            index = (marks[symbol] * D("1.001")).quantize(D("0.1")) if kind != "mark" else None
            steps.append([MarkPrice("binance", symbol, marks[symbol], index, None, None, ts, ts)])
        elif kind in ("trade", "last"):
            lasts[symbol] = (lasts[symbol] * move).quantize(D("0.1"))
            price = lasts[symbol]
            steps.append(
                [Trade("binance", symbol, price, D(1), None, str(ts), ts, ts)]
                if kind == "trade"
                else [LastPrice("binance", symbol, price, ts, ts)]
            )
        elif kind == "order":
            steps.append([_stop(symbol, marks[symbol], step, ts)])
        elif kind == "booked":  # booked straight into the ledger, as a restore or a tool does
            side = OrderSide.BUY if step < 0 else OrderSide.SELL
            qty = (D(500) / BASE[symbol]).quantize(D("0.001"))
            steps.append([Fill(symbol, side, qty, marks[symbol])])
        else:
            name = "crs" if step % 2 else "iso"
            steps.append([CancelOrder(name, f"{name}-{abs(step) % 7 + 1}", ts)])
    for number, inputs in enumerate(steps):
        seen = []
        for kernel in pairs:
            out: list[object] = []
            for item in inputs:
                if isinstance(item, Fill):
                    kernel.account("crs").apply_fill(item)
                    continue
                done = kernel.step(item, str(number))  # type: ignore[arg-type]
                out += [*done.events, *done.alerts]
            seen.append((out, _state(kernel.engine)))
        assert seen[0] == seen[1]


def _long_btc_short_eth(banded: bool) -> Engine:
    """One cross account, long 0.6 BTCUSDT and short 4 ETHUSDT on a 2,500 wallet."""
    account = Account(Venue.BINANCE, {s: instrument(s, tiers=TIERS) for s in SYMBOLS},
                      D(2500), fees=NO_FEES, default_leverage=D(20))  # fmt: skip
    engine = engine_class(banded)({"crs": account})
    for symbol in ("BTCUSDT", "ETHUSDT"):
        engine.step(MarkPrice("binance", symbol, BASE[symbol], None, None, None, 0, 0))
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, D("0.6"), D(10_000)))
    account.apply_fill(Fill("ETHUSDT", OrderSide.SELL, D(4), D(1_000)))
    return engine


def test_a_cross_allocation_left_by_one_mark_no_longer_guards_the_others() -> None:
    """A cross account's bands are allocated together: once one symbol's mark leaves its band,
    the other symbols' bands cut to that allocation go too. Here BTCUSDT falls 35 % (inside
    no band), and a rise of ETHUSDT that the first allocation's band still covered liquidates."""
    outcomes = []
    for banded in (True, False):
        engine = _long_btc_short_eth(banded)
        marks = [("ETHUSDT", 1_001), ("ETHUSDT", 1_002), ("BTCUSDT", 6_500), ("ETHUSDT", 1_110)]
        out = [
            engine.step(MarkPrice("binance", symbol, D(mark), None, None, None, 1, 1))
            for symbol, mark in marks
        ]
        outcomes.append(out)
    assert [type(e).__name__ for e in outcomes[1][-1]] == ["PositionLiquidated"]
    assert outcomes[0] == outcomes[1]


def test_a_wallet_change_drops_the_bands_of_every_cross_symbol() -> None:
    """A stop on BTCUSDT's last price fills at a 2,400 loss while its mark stays where it was
    (inside its allocated band): the wallet behind the ETHUSDT short shrinks to 100, and a rise
    of ETHUSDT inside the band computed with the old wallet now liquidates."""
    outcomes = []
    for banded in (True, False):
        engine = _long_btc_short_eth(banded)
        stop = SetTakeProfitStopLoss(
            "crs", "BTCUSDT", 0, None, D(6_000), stop_loss_source=PriceSource.LAST
        )
        ticks = [
            Trade("binance", "BTCUSDT", D(10_000), D(1), None, "1", 0, 0),
            stop,
            *(MarkPrice("binance", "ETHUSDT", D(m), None, None, None, 1, 1) for m in (1001, 1002)),
            Trade("binance", "BTCUSDT", D(6_000), D(1), None, "2", 2, 2),
            MarkPrice("binance", "ETHUSDT", D(1_050), None, None, None, 3, 3),
        ]
        outcomes.append([engine.step(t) for t in ticks])  # type: ignore[arg-type]
    assert [type(e).__name__ for e in outcomes[1][-2]][-1] == "OrderFilled"
    assert [type(e).__name__ for e in outcomes[1][-1]] == ["PositionLiquidated"]
    assert outcomes[0] == outcomes[1]


def test_the_rules_calm_bands_go_with_the_allocation_they_were_cut_to() -> None:
    """The same for the alert rules: ETHUSDT's calm band was cut to the cross account's first
    allocation; after BTCUSDT falls 30 %, a rise of ETHUSDT inside that old band takes the
    account's margin ratio past 50 %, and the alert comes."""
    outcomes = []
    for banded in (True, False):
        engine = _long_btc_short_eth(banded)
        rules = rules_class(banded)(engine)
        alerts = []
        for symbol, mark in [("ETHUSDT", 1_001), ("ETHUSDT", 1_002), ("ETHUSDT", 1_003),
                             ("BTCUSDT", 6_500), ("ETHUSDT", 1_085)]:  # fmt: skip
            tick = MarkPrice("binance", symbol, D(mark), None, None, None, 1, 1)
            assert engine.step(tick) == []
            alerts.append(rules.on_event(tick))
        outcomes.append(alerts)
    assert [(a.kind, a.symbol) for a in outcomes[1][-1]] == [("liquidation_risk", "ETHUSDT")]
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("mode", "wallet"), [(MarginMode.ISOLATED, 10_000), (MarginMode.CROSS, 5_000)]
)
def test_a_band_that_may_hold_the_liquidation_price_never_skips_a_divergence(
    mode: MarginMode, wallet: int
) -> None:
    """Past the top margin-ratio level a position's band has no ceiling, so its liquidation
    price may lie inside it (here a wide one: a hysteresis of 90 % puts the floor far below):
    mark and last far from the band's edges say nothing about their distance to it. A
    mark 3.4 % above the liquidation price (the last 4.1 %) must still alert. (The cross wallet
    is the isolated margin: the same ratios, the same liquidation price, 6,666.67.)"""
    outcomes = []
    for banded in (True, False):
        account = Account(Venue.BINANCE, {"BTCUSDT": instrument(tiers=TierTable.single(D("0.25")))},
                          D(wallet), fees=NO_FEES, default_margin_mode=mode,
                          default_leverage=D(2))  # fmt: skip
        engine = engine_class(banded)({"iso": account})
        rules = rules_class(banded)(engine, RuleBook(RuleSettings(hysteresis=D("0.9"))))
        engine.step(MarkPrice("binance", "BTCUSDT", D(10_000), None, None, None, 0, 0))
        engine.step(Trade("binance", "BTCUSDT", D(10_000), D(1), None, "0", 0, 0))
        engine.step(PlaceOrder("iso", OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET,
                                                   D(1)), 0))  # fmt: skip
        alerts = []
        path = [(p, p) for p in range(10_000, 6_890, -10)] + [(6_900, 6_900)] * 3
        for n, (mark, last) in enumerate([*path, (6_900, 6_950)]):
            for tick in (  # the trade first: mark and last never diverge on the way down
                Trade("binance", "BTCUSDT", D(last), D(1), None, str(n), n * S, n * S),
                MarkPrice("binance", "BTCUSDT", D(mark), None, None, None, n * S, n * S),
            ):
                assert engine.step(tick) == []
                alerts.append([(a.kind, a.severity) for a in rules.on_event(tick)])
        outcomes.append(alerts)
    assert outcomes[1][-2:] == [[("mark_last_divergence", Severity.CRITICAL)], []]
    assert outcomes[0] == outcomes[1]


def _stop(symbol: str, mark: Decimal, step: int, ts: int) -> PlaceOrder:
    """A stop on the mark, `step` / 2 % away, in one account or the other."""
    side = OrderSide.BUY if step < 0 else OrderSide.SELL
    trigger = (mark * (1 - D(step) / 200)).quantize(D("0.1"))
    qty = (D(100) / BASE[symbol]).quantize(D("0.001"))
    request = OrderRequest(
        symbol, side, OrderType.STOP_MARKET, qty, trigger_price=trigger,
        trigger_source=PriceSource.MARK,
    )  # fmt: skip
    return PlaceOrder("crs" if step % 2 else "iso", request, ts)


def _state(engine: Engine) -> list[object]:
    state: list[object] = []
    for name, desk in engine.desks.items():
        account = desk.account
        state.append((name, account.wallet_balance, sorted(account.marks.items())))
        state += sorted(
            (p.symbol, p.slot is PositionSlot.BOTH, p.side, p.qty, p.entry_price, p.isolated_margin)
            for p in account.positions()
        )
        state += [
            (o.id, o.status, o.trigger, o.extreme, o.activated, o.filled_qty)
            for o in desk.orders.values()
        ]
    return state
