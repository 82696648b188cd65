"""The page's memory: bounded, one point per exchange second, and only news for a browser."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.core.alerting.alert import Alert, Severity
from bot.core.values import Side
from bot.web.history import NS, History
from bot.web.view import distance

KEY = "binance:BTCUSDT"


def test_one_point_per_exchange_second_holding_the_latest_mark_and_last() -> None:
    history = History(points=10)
    history.price(KEY, 5 * NS, Decimal(100), None)
    history.price(KEY, 5 * NS + 400_000_000, Decimal(101), Decimal("100.5"))
    history.price(KEY, 6 * NS, Decimal(102), Decimal("101.5"))
    assert history.points_since(0) == {KEY: [[5, 101.0, 100.5], [6, 102.0, 101.5]]}


def test_a_venue_clock_stepping_back_changes_the_newest_point_only() -> None:
    history = History()
    history.price(KEY, 9 * NS, Decimal(100), Decimal(100))
    history.price(KEY, 7 * NS, Decimal(99), Decimal(98))
    assert history.points_since(0) == {KEY: [[9, 99.0, 98.0]]}


def test_a_browser_is_sent_only_what_changed_since_it_last_looked() -> None:
    history = History()
    history.price(KEY, 1 * NS, Decimal(1), Decimal(1))
    history.price(KEY, 2 * NS, Decimal(2), Decimal(2))
    seen = history.seq
    assert history.points_since(seen) == {}
    history.price(KEY, 2 * NS + 1, Decimal(3), Decimal(2))  # the newest second changes
    history.price("bybit:ETHUSDT", 2 * NS, Decimal(7), None)
    assert history.points_since(seen) == {KEY: [[2, 3.0, 2.0]], "bybit:ETHUSDT": [[2, 7.0, None]]}
    alert = Alert("liquidated", Severity.CRITICAL, 2 * NS, "iso", "BTCUSDT", "gone")
    history.alert(alert, "id-1")
    [row] = history.alerts_since(seen)
    assert (row["id"], row["kind"], row["second"]) == ("id-1", "liquidated", 2)
    assert history.alerts_since(history.seq) == []


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 10**6)), min_size=1, max_size=300),
    st.integers(10, 50),
)
def test_bounded_and_its_time_axis_only_moves_forward(
    ticks: list[tuple[int, int]], bound: int
) -> None:
    history = History(points=bound, alerts=bound)
    for second, price in ticks:
        history.price(KEY, second * NS, Decimal(price), Decimal(price))
        history.alert(Alert("k", Severity.INFO, second * NS, None, None, "m"), str(second))
    rows = history.points_since(0)[KEY]
    assert len(rows) <= bound
    assert [r[0] for r in rows] == sorted({r[0] for r in rows})
    assert rows[-1][1] == float(ticks[-1][1])  # the newest price is never lost
    assert len(history.alerts_since(0)) == min(bound, len(ticks))


def test_distance_to_liquidation_is_signed_by_the_side() -> None:
    assert distance(Side.LONG, Decimal(100), Decimal(90)) == Decimal("0.1")
    assert distance(Side.SHORT, Decimal(100), Decimal(110)) == Decimal("0.1")
    assert distance(Side.LONG, Decimal(80), Decimal(90)) == Decimal("-0.125")  # past it
    assert distance(Side.LONG, None, Decimal(90)) is None
    assert distance(Side.LONG, Decimal(100), None) is None
