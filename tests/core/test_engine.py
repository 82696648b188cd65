"""The engine over scripted price paths: triggers on mark vs last, brackets, liquidation, fills."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from bot.core.commands import (
    CancelOrder,
    ClosePosition,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
    SetTakeProfitStopLoss,
)
from bot.core.engine import Engine
from bot.core.engine_events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    PositionLiquidated,
)
from bot.core.instruments import TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.market import BookTop, MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType, PriceSource, TimeInForce
from bot.core.values import MarginMode, OrderSide, Venue
from tests.conftest import NO_FEES, instrument, make_account

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def engine(
    *names: str,
    wallet: str = "2000",
    mode: MarginMode = MarginMode.CROSS,
    fees: FeeSchedule = NO_FEES,
    symbols: tuple[str, ...] = ("BTCUSDT",),
) -> Engine:
    instruments = {s: instrument(s, tiers=TierTable.single(D("0.004"))) for s in symbols}
    accounts = {
        n: Account(
            Venue.BINANCE,
            instruments,
            D(wallet),
            fees=fees,
            default_margin_mode=mode,
            default_leverage=D(10),
        )
        for n in names or ("a",)
    }
    return Engine(accounts)


def mark(price: str, ts: int, symbol: str = "BTCUSDT") -> MarkPrice:
    return MarkPrice("binance", symbol, D(price), None, None, None, ts, ts)


def trade(price: str, ts: int, symbol: str = "BTCUSDT") -> Trade:
    return Trade("binance", symbol, D(price), D("0.001"), BUY, str(ts), ts, ts)


def tick(e: Engine, ts: int, mark_price: str, last_price: str) -> list:
    return e.step(mark(mark_price, ts)) + e.step(trade(last_price, ts))


def opened_long(e: Engine, account: str = "a", qty: str = "1", price: str = "10000") -> None:
    e.step(mark(price, 0))
    e.step(trade(price, 0))
    [_, filled] = e.step(
        PlaceOrder(account, OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D(qty)), 0)
    )
    assert isinstance(filled, OrderFilled)


# mark leads the fall; last lags by 1 % — then a last-price wick without the mark.
PATH = [
    ("9900", "10000"),
    ("9800", "9900"),
    ("9700", "9800"),
    ("9600", "9700"),
    ("9500", "9600"),
    ("9400", "9500"),
    ("9600", "9300"),
    ("9700", "9700"),
]


def fired_at(e: Engine, path: list[tuple[str, str]]) -> dict[str, int]:
    when: dict[str, int] = {}
    for ts, (m, last) in enumerate(path, 1):
        for event in tick(e, ts, m, last):
            if isinstance(event, OrderTriggered):
                when[event.order_id] = ts
    return when


@pytest.mark.parametrize(
    ("kind", "trigger", "extra", "mark_tick", "last_tick"),
    [
        (OrderType.STOP_MARKET, "9650", {}, 4, 5),
        (OrderType.STOP_LIMIT, "9650", {"price": D("9600")}, 4, 5),
    ],
)
def test_stop_triggers_on_mark_before_last(kind, trigger, extra, mark_tick, last_tick) -> None:
    e = engine("on_mark", "on_last")
    for name in ("on_mark", "on_last"):
        opened_long(e, name)
    ids = {}
    for name, source in (("on_mark", PriceSource.MARK), ("on_last", PriceSource.LAST)):
        request = OrderRequest(
            "BTCUSDT",
            SELL,
            kind,
            D(1),
            trigger_price=D(trigger),
            trigger_source=source,
            reduce_only=True,
            **extra,
        )
        [accepted] = e.step(PlaceOrder(name, request, 0))
        ids[name] = accepted.order_id
    when = fired_at(e, PATH)
    assert when.get(ids["on_mark"]) == mark_tick
    assert when.get(ids["on_last"]) == last_tick


def test_take_profit_and_trailing_stop_fire_on_their_own_source() -> None:
    e = engine("on_mark", "on_last")
    for name in ("on_mark", "on_last"):
        opened_long(e, name)
    rise = [
        ("10100", "10000"),
        ("10300", "10100"),
        ("10400", "10300"),
        ("10500", "10450"),
        ("10300", "10500"),
        ("10200", "10350"),
    ]
    ids = {}
    for name, source in (("on_mark", PriceSource.MARK), ("on_last", PriceSource.LAST)):
        tp = OrderRequest(
            "BTCUSDT",
            SELL,
            OrderType.TAKE_PROFIT_MARKET,
            D("0.5"),
            trigger_price=D("10400"),
            trigger_source=source,
            reduce_only=True,
        )
        trail = OrderRequest(
            "BTCUSDT",
            SELL,
            OrderType.TRAILING_STOP_MARKET,
            D("0.5"),
            callback_rate=D("0.02"),
            trigger_source=source,
            reduce_only=True,
        )
        ids[name] = [e.step(PlaceOrder(name, r, 0))[0].order_id for r in (tp, trail)]
    when = fired_at(e, rise)
    # TP 10,400: mark reaches it at tick 3, last at tick 4.
    assert (when[ids["on_mark"][0]], when[ids["on_last"][0]]) == (3, 4)
    # Trailing 2 %: mark peaks at 10,500 (tick 4) → trigger 10,290 → mark 10,200 at tick 6;
    # last peaks at 10,500 (tick 5) → trigger 10,290 → never below it here.
    assert when[ids["on_mark"][1]] == 6
    assert ids["on_last"][1] not in when


def test_bracket_take_profit_fill_cancels_the_stop() -> None:
    e = engine()
    opened_long(e)
    out = e.step(SetTakeProfitStopLoss("a", "BTCUSDT", 1, take_profit=D(10500), stop_loss=D(9500)))
    assert [type(x) for x in out] == [OrderAccepted, OrderAccepted]
    events = tick(e, 2, "10400", "10500")
    kinds = [(type(x).__name__, getattr(x, "role", None)) for x in events]
    assert ("OrderTriggered", "take_profit") in kinds
    assert ("OrderFilled", "take_profit") in kinds
    [canceled] = [x for x in events if isinstance(x, OrderCanceled)]
    assert "bracket" in canceled.reason
    assert e.desks["a"].account.position("BTCUSDT") is None


def test_liquidation_cancels_the_whole_bracket() -> None:
    e = engine(mode=MarginMode.ISOLATED)
    opened_long(e)  # isolated 1,000, LP 9,036.14
    e.step(
        SetTakeProfitStopLoss(
            "a",
            "BTCUSDT",
            1,
            take_profit=D(11000),
            stop_loss=D(8000),
            stop_loss_source=PriceSource.LAST,
        )
    )
    events = tick(e, 2, "9030", "9100")
    canceled = [x for x in events if isinstance(x, OrderCanceled)]
    assert [c.reason for c in canceled] == ["position liquidated", "position liquidated"]
    [liquidated] = [x for x in events if isinstance(x, PositionLiquidated)]
    assert liquidated.last_price is None or liquidated.last_price == D(10000)


def test_isolated_liquidated_on_mark_at_its_price_never_on_a_last_wick() -> None:
    e = engine("iso", mode=MarginMode.ISOLATED)
    opened_long(e, "iso")
    lp = D(-9000) / D("-0.996")  # 9,036.1445...
    crash = [
        ("9500", "9400"),
        ("9100", "8900"),  # last wicks far below the LP; mark does not
        ("9040", "9000"),
        ("9036.2", "8950"),
        ("9036.1", "9030"),
        ("9000", "9000"),
    ]
    liquidated_at = None
    for ts, (m, last) in enumerate(crash, 1):
        # The last price arrives first: a wick alone must never liquidate.
        assert not [x for x in e.step(trade(last, ts)) if isinstance(x, PositionLiquidated)]
        for event in e.step(mark(m, ts)):
            if isinstance(event, PositionLiquidated):
                liquidated_at = ts
                gone = event.liquidation.positions[0]
                assert gone.liquidation_price == lp
                assert gone.mark_price == D("9036.1")
    assert liquidated_at == 5  # the first mark at or beyond 9,036.14
    assert e.desks["iso"].account.wallet_balance == D(1000)


def test_cross_account_loses_every_cross_position_together() -> None:
    e = engine("cross", symbols=("BTCUSDT", "ETHUSDT"))
    e.step(mark("2000", 0, "ETHUSDT"))
    e.step(trade("2000", 0, "ETHUSDT"))
    opened_long(e, "cross")
    e.step(PlaceOrder("cross", OrderRequest("ETHUSDT", BUY, OrderType.MARKET, D(5)), 0))
    # ETH falls to 1,900 (−500); BTC then liquidates both where
    # 2000 − 500 + (P − 10000) = 0.004·P + 38  →  P = 8538 / 0.996 = 8,572.29.
    events = e.step(mark("1900", 1, "ETHUSDT"))
    assert not [x for x in events if isinstance(x, PositionLiquidated)]
    assert not [x for x in e.step(mark("8572.3", 2)) if isinstance(x, PositionLiquidated)]
    events = e.step(mark("8572.2", 3))
    [liquidated] = [x for x in events if isinstance(x, PositionLiquidated)]
    assert {p.symbol for p in liquidated.liquidation.positions} == {"BTCUSDT", "ETHUSDT"}
    assert e.desks["cross"].account.wallet_balance == 0


REFUSALS = [
    (OrderRequest("XRPUSDT", BUY, OrderType.MARKET, D(1)), "unknown_symbol", "no instrument data"),
    (OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D("0.0015")), "lot_size", "lot size 0.001"),
    (
        OrderRequest("BTCUSDT", BUY, OrderType.LIMIT, D("0.01"), price=D("9999.95")),
        "tick_size",
        "tick size 0.1",
    ),
    (OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D("0.0001")), "lot_size", "lot size"),
    (
        OrderRequest("BTCUSDT", BUY, OrderType.LIMIT, D("0.001"), price=D(4000)),
        "min_notional",
        "below the minimum 5",
    ),
    (
        OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D(5)),
        "insufficient_margin",
        "only 2000 is available",
    ),
    (
        OrderRequest("BTCUSDT", SELL, OrderType.MARKET, D(1), reduce_only=True),
        "reduce_only_would_increase",
        "would open or increase",
    ),
    (
        OrderRequest(
            "BTCUSDT",
            BUY,
            OrderType.LIMIT,
            D("0.01"),
            price=D(10001),
            time_in_force=TimeInForce.POST_ONLY,
        ),
        "post_only_would_take",
        "would take",
    ),
    (
        OrderRequest(
            "BTCUSDT",
            SELL,
            OrderType.STOP_MARKET,
            D("0.01"),
            trigger_price=D(10100),
            trigger_source=PriceSource.MARK,
        ),
        "would_trigger_immediately",
        "already beyond",
    ),
    (
        OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D(1), margin_mode=MarginMode.ISOLATED),
        "margin_mode_mismatch",
        "is in cross margin",
    ),
    (
        OrderRequest(
            "BTCUSDT", SELL, OrderType.TRAILING_STOP_MARKET, D("0.01"), callback_rate=D("0.5")
        ),
        "callback_rate",
        "0.1 % to 10 %",
    ),
    (
        OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D(1), time_in_force=TimeInForce.IOC),
        "time_in_force",
        "applies to limit orders",
    ),
    (OrderRequest("BTCUSDT", BUY, OrderType.LIMIT, D(1)), "bad_price", "needs a price"),
]


@pytest.mark.parametrize(("request_", "code", "message"), REFUSALS)
def test_every_pre_trade_refusal(request_: OrderRequest, code: str, message: str) -> None:
    e = engine()
    e.step(mark("10000", 0))
    e.step(BookTop("binance", "BTCUSDT", D("9999.9"), D(1), D(10000), D(1), 0, 0))
    e.step(trade("10000", 0))
    [refused] = e.step(PlaceOrder("a", request_, 1))
    assert isinstance(refused, OrderRejected)
    assert refused.code == code
    assert message in refused.reason


def test_leverage_tier_refusal_and_no_price_yet() -> None:
    e = engine()
    [refused] = e.step(PlaceOrder("a", OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D(1)), 0))
    assert refused.code == "no_market_price"
    e.step(mark("10000", 0))
    account = e.desks["a"].account
    account.instruments["BTCUSDT"] = instrument(
        tiers=TierTable.from_floors_and_rates(
            [D(0), D(5000)], [D("0.004"), D("0.005")], [D(125), D(10)]
        )
    )
    e.step(SetLeverage("a", "BTCUSDT", D(20), 0))
    e.step(trade("10000", 0))
    [refused] = e.step(PlaceOrder("a", OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D("0.6")), 1))
    assert refused.code == "leverage_tier_exceeded"


def test_limit_rests_and_fills_when_traded_through_as_maker() -> None:
    fees = FeeSchedule(D("0.0002"), D("0.0005"))
    e = engine(fees=fees)
    e.step(mark("10000", 0))
    e.step(trade("10000", 0))
    [accepted] = e.step(
        PlaceOrder("a", OrderRequest("BTCUSDT", BUY, OrderType.LIMIT, D(1), price=D(9900)), 0)
    )
    assert e.step(trade("9900", 1)) == []  # at the price: no fill (no queue jumping)
    [filled] = [x for x in e.step(trade("9899.9", 2)) if isinstance(x, OrderFilled)]
    assert filled.order_id == accepted.order_id
    assert (filled.fill.price, filled.fill.fee) == (D(9900), D("1.98"))  # maker 0.02 %


def test_market_order_fills_at_the_book_with_slippage_and_ioc_cancels() -> None:
    e = Engine(
        {"a": Account(Venue.BINANCE, {"BTCUSDT": instrument()}, D(5000), fees=NO_FEES)},
        slippage_bps=D(5),
    )
    e.step(mark("10000", 0))
    e.step(BookTop("binance", "BTCUSDT", D("9999.9"), D(1), D(10000), D(1), 0, 0))
    [_, filled] = e.step(
        PlaceOrder("a", OrderRequest("BTCUSDT", BUY, OrderType.MARKET, D("0.1")), 0)
    )
    assert filled.fill.price == D("10005.0")  # ask 10,000 + 5 bp, rounded up to the tick
    [_, canceled] = e.step(
        PlaceOrder(
            "a",
            OrderRequest(
                "BTCUSDT",
                BUY,
                OrderType.LIMIT,
                D("0.1"),
                price=D(9000),
                time_in_force=TimeInForce.IOC,
            ),
            1,
        )
    )
    assert canceled.reason == "ioc: no immediate match"


def test_cancel_close_and_margin_mode_rule_through_the_engine() -> None:
    e = engine()
    opened_long(e)
    [accepted] = e.step(
        PlaceOrder(
            "a",
            OrderRequest("BTCUSDT", SELL, OrderType.LIMIT, D(1), price=D(11000), reduce_only=True),
            1,
        )
    )
    [refused] = e.step(SetMarginMode("a", "BTCUSDT", MarginMode.ISOLATED, 1))
    assert "close it first" in refused.reason
    [canceled] = e.step(CancelOrder("a", accepted.order_id, 2))
    assert canceled.reason == "canceled by the trader"
    events = e.step(ClosePosition("a", "BTCUSDT", 3))
    assert isinstance(events[-1], OrderFilled)
    [changed] = e.step(SetMarginMode("a", "BTCUSDT", MarginMode.ISOLATED, 4))
    assert changed.change.margin_mode is MarginMode.ISOLATED


def test_take_profit_limit_fires_on_its_source_and_rests_as_a_limit() -> None:
    e = engine("on_mark", "on_last")
    for name in ("on_mark", "on_last"):
        opened_long(e, name)
    ids = {}
    for name, source in (("on_mark", PriceSource.MARK), ("on_last", PriceSource.LAST)):
        request = OrderRequest(
            "BTCUSDT",
            SELL,
            OrderType.TAKE_PROFIT_LIMIT,
            D(1),
            price=D(10450),
            trigger_price=D(10400),
            trigger_source=source,
            reduce_only=True,
        )
        ids[name] = e.step(PlaceOrder(name, request, 0))[0].order_id
    rise = [
        ("10100", "10000"),
        ("10300", "10100"),
        ("10400", "10300"),
        ("10500", "10400"),
        ("10500", "10460"),
    ]
    when = fired_at(e, rise)
    assert (when[ids["on_mark"]], when[ids["on_last"]]) == (3, 4)
    # Triggered at 10,400, the limit at 10,450 rests until a trade prints through it (10,460).
    desk = e.desks["on_mark"]
    assert desk.account.position("BTCUSDT") is None
    assert desk.orders[ids["on_mark"]].status.value == "filled"


def test_an_engine_restored_from_its_snapshot_still_watches_its_orders() -> None:
    """The engine reads each account's open orders at every trade through references it
    keeps; a pickled and restored engine (the daemon's snapshot) must keep them joined."""
    e = engine("a", "b")
    e.step(mark("10000", 0))
    e.step(trade("10000", 0))
    restored = pickle.loads(pickle.dumps(e))  # noqa: S301 — our own object
    limit = OrderRequest("BTCUSDT", BUY, OrderType.LIMIT, D(1), price=D(9900))
    restored.step(PlaceOrder("b", limit, 1))
    [filled] = [x for x in restored.step(trade("9899.9", 2)) if isinstance(x, OrderFilled)]
    assert (filled.account, filled.fill.price) == ("b", D(9900))


def test_orders_for_unknown_symbols_leave_no_state() -> None:
    """5,000 refused orders for symbols no account lists: no price-board entry, no order."""
    from bot.core.commands import PlaceOrder
    from bot.core.engine_events import OrderRejected
    from bot.core.orders.model import OrderRequest, OrderType
    from bot.core.values import OrderSide

    engine = Engine({"a": make_account("1000")})
    before = (len(engine.prices.symbols), len(engine.desks["a"].orders))
    for n in range(5000):
        request = OrderRequest(f"NOPE{n}USDT", OrderSide.BUY, OrderType.MARKET, Decimal(1))
        [refused] = engine.step(PlaceOrder("a", request, n))
        assert isinstance(refused, OrderRejected)
        assert refused.code == "unknown_symbol"
    assert (len(engine.prices.symbols), len(engine.desks["a"].orders)) == before
