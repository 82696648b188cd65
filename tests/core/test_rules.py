"""Alert rules: divergence near liquidation at the right tick, hysteresis, cooldown, levels."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.core.alerting.alert import Alert, Severity
from bot.core.alerting.settings import RuleBook, RuleSettings
from bot.core.commands import PlaceOrder, SetTakeProfitStopLoss
from bot.core.engine import Engine
from bot.core.feed_events import FeedRecovered, FeedStale
from bot.core.instruments import TierTable
from bot.core.kernel import Kernel
from bot.core.ledger.account import Account
from bot.core.market import MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType
from bot.core.values import MarginMode, OrderSide, Venue
from tests.conftest import NO_FEES, instrument
from tests.core.in_full import rules_class

D = Decimal
S = 1_000_000_000  # one second in ns


def setup(settings: RuleSettings | None = None) -> tuple[Engine, Kernel]:
    btc = instrument(tiers=TierTable.single(D("0.004")))
    account = Account(
        Venue.BINANCE,
        {"BTCUSDT": btc},
        D(2000),
        fees=NO_FEES,
        default_margin_mode=MarginMode.ISOLATED,
        default_leverage=D(10),
    )
    engine = Engine({"iso": account})
    kernel = Kernel(engine, RuleBook(settings or RuleSettings()))
    feed(kernel, 0, "10000", "10000")
    engine.step(
        PlaceOrder("iso", OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, D(1)), 0)
    )  # LP 9,036.14
    return engine, kernel


def feed(kernel: Kernel, ts: int, mark: str, last: str) -> list:
    """One tick: the mark, then a trade at the last price, each a step of the kernel."""
    alerts: list[Alert] = []
    trade = Trade("binance", "BTCUSDT", D(last), D("0.001"), None, str(ts), ts, ts)
    for event in (MarkPrice("binance", "BTCUSDT", D(mark), None, None, None, ts, ts), trade):
        alerts += kernel.step(event, str(ts)).alerts
    return alerts


def kinds(alerts: list) -> list[str]:
    return [a.kind for a in alerts]


def look(kernel: Kernel, ts: int, mark: str, last: str) -> list[Alert]:
    """The price rules alone, once per tick: both prices reach the engine (which has nothing
    to do on these paths), then the rules look at the pair. A kernel step per price would look
    at the new mark with the last price of the tick before."""
    trade = Trade("binance", "BTCUSDT", D(last), D("0.001"), None, str(ts), ts, ts)
    for event in (MarkPrice("binance", "BTCUSDT", D(mark), None, None, None, ts, ts), trade):
        assert kernel.engine.step(event) == []
    return kernel.rules.on_event(trade)


def run(
    path: list[tuple[str, str]], settings: RuleSettings | None = None, step_s: int = 1
) -> list[tuple[int, Alert]]:
    _, kernel = setup(settings)
    out = []
    for tick, (mark, last) in enumerate(path, 1):
        out += [(tick, a) for a in look(kernel, tick * step_s * S, mark, last)]
    return out


# The mark falls towards the liquidation price (9,036.14) while the last price lags.
DIVERGING = [
    ("9800", "9800"),
    ("9500", "9500"),
    ("9450", "9500"),
    ("9400", "9480"),
    ("9380", "9460"),
    ("9390", "9470"),
]


def test_divergence_near_liquidation_fires_once_at_the_expected_tick() -> None:
    fired = [(t, a) for t, a in run(DIVERGING) if a.kind == "mark_last_divergence"]
    assert [t for t, _ in fired] == [3]  # 9,450 is 4.38 % from the LP; last 0.53 % away
    alert = fired[0][1]
    assert alert.severity is Severity.CRITICAL  # the mark, which liquidates, is closer
    assert alert.detail("liquidation_price").startswith("9036.1445")
    assert alert.detail("distance_mark_pct") == "4.3794"  # (9450 − 9036.1446) / 9450
    assert alert.detail("distance_last_pct") == "4.8827"
    assert alert.detail("divergence_pct") == "0.5291"
    assert alert.detail("margin_mode") == "isolated"
    assert "the mark, which liquidates, is the closer" in alert.message


def test_the_same_path_without_divergence_raises_no_divergence_alert() -> None:
    calm = [(mark, mark) for mark, _ in DIVERGING]
    assert "mark_last_divergence" not in kinds([a for _, a in run(calm)])


def test_oscillation_gives_one_alert_per_episode() -> None:
    # Divergence flickers around the 0.3 % threshold (0.31 %, 0.29 %, ...): hysteresis keeps it
    # to one alert until it clears below 0.24 %.
    flicker = [("9450", "9479.3"), ("9450", "9477.4")] * 5
    fired = [t for t, a in run(flicker) if a.kind == "mark_last_divergence"]
    assert fired == [1]
    # It clears (0.1 %) and comes back within the 60 s cooldown: still one alert; after the
    # cooldown, a new episode alerts again.
    episodes = [("9450", "9500"), ("9450", "9459.5"), ("9450", "9500")] * 2
    fired = [t for t, a in run(episodes, step_s=20) if a.kind == "mark_last_divergence"]
    assert fired == [1, 4]  # tick 3 is 40 s after tick 1: cooled only by tick 4 (60 s)


def test_margin_ratio_levels_up_and_back_down() -> None:
    # Isolated long, margin 1,000: ratio = 0.004·P / (P − 9000).
    path = [
        ("9080", "9080"),
        ("9070", "9070"),
        ("9060", "9060"),
        ("9045", "9045"),
        ("9046", "9046"),
        ("9044", "9044"),
        ("9040", "9040"),
        ("9041", "9041"),
        ("9100", "9100"),
    ]
    risk = [(t, a) for t, a in run(path) if a.kind == "liquidation_risk"]
    assert [(t, a.detail("direction"), a.detail("level_pct"), a.severity) for t, a in risk] == [
        (2, "up", "50.0000", Severity.WARNING),  # 51.8 %
        (4, "up", "80.0000", Severity.WARNING),  # 80.4 %
        (7, "up", "90.0000", Severity.CRITICAL),  # 90.4 %
        (9, "down", "90.0000", Severity.INFO),  # 36.4 %: below 90 % × 0.8
    ]


def test_event_alerts() -> None:
    engine, kernel = setup(RuleSettings(funding_threshold=D("0.5")))
    rules = kernel.rules
    engine.step(SetTakeProfitStopLoss("iso", "BTCUSDT", 1, stop_loss=D(9500)))
    alerts = feed(kernel, 2 * S, "9490", "9495")
    assert {"stop_loss_triggered", "stop_loss_filled"} <= set(kinds(alerts))
    [refused] = [
        r
        for r in engine.step(
            PlaceOrder(
                "iso", OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, D("0.0001")), 3
            )
        )
        if True
    ]
    assert kinds(rules.on_event(refused)) == ["order_rejected"]
    stale = rules.on_event(FeedStale("binance", "binance.1", 15.0, 4))
    assert rules.on_event(FeedStale("binance", "binance.2", 15.0, 5)) == []  # same outage
    back = rules.on_event(FeedRecovered("binance", "binance.3", 31.2, 6))
    assert rules.on_event(FeedRecovered("binance", "binance.3", 0.5, 7)) == []
    assert (stale[0].severity, back[0].kind) == (Severity.WARNING, "feed_recovered")
    assert stale[0].message == "binance feed silent for 15.0 s"
    # Binance's two endpoints are two streams: each has its own outage.
    market = rules.on_event(FeedStale("binance", "binance.market.1", 15.0, 8))
    assert market[0].message == "binance.market feed silent for 15.0 s"
    assert ("stream", "binance.market") in market[0].details
    assert kinds(rules.on_event(FeedStale("binance", "binance.public.1", 15.0, 9))) == [
        "feed_stale"
    ]
    assert rules.on_event(FeedStale("binance", "binance.market.2", 15.0, 10)) == []


def test_liquidated_alert_carries_prices_and_loss() -> None:
    _, kernel = setup()
    alerts = feed(kernel, S, "9030", "9100")
    [liquidated] = [a for a in alerts if a.kind == "liquidated"]
    assert liquidated.severity is Severity.CRITICAL
    assert (liquidated.detail("mark_price"), liquidated.detail("last_price")) == ("9030", "10000")
    assert liquidated.detail("loss") == "1000"


def _quiet_memo_engine() -> tuple[Kernel, Kernel]:
    pairs = []
    for remember in (True, False):
        btc = instrument(tiers=TierTable.single(D("0.004")))
        eth = instrument("ETHUSDT", tiers=TierTable.single(D("0.005")))
        sol = instrument("SOLUSDT", tiers=TierTable.single(D("0.005")))
        # SOLUSDT is held by the isolated account alone: the rules may skip it as a whole.
        accounts = {
            "iso": Account(Venue.BINANCE, {"BTCUSDT": btc, "SOLUSDT": sol}, D(2100), fees=NO_FEES,
                           default_margin_mode=MarginMode.ISOLATED, default_leverage=D(10)),
            "crs": Account(Venue.BINANCE, {"BTCUSDT": btc, "ETHUSDT": eth}, D(1500),
                           fees=NO_FEES, default_leverage=D(20)),
        }  # fmt: skip
        engine = Engine(accounts)
        settings = RuleSettings(cooldown_s=2, hysteresis=D("0.1"))
        kernel = Kernel(engine, RuleBook(settings), rules=rules_class(remember))
        for symbol, price in (("BTCUSDT", "10000"), ("ETHUSDT", "1000"), ("SOLUSDT", "100")):
            for event in (
                MarkPrice("binance", symbol, D(price), None, None, None, 0, 0),
                Trade("binance", symbol, D(price), D(1), None, "0", 0, 0),
            ):
                engine.step(event)
        for account, symbol, qty in (("iso", "BTCUSDT", 1), ("crs", "BTCUSDT", 1),
                                     ("crs", "ETHUSDT", 5), ("iso", "SOLUSDT", 1)):  # fmt: skip
            request = OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, D(qty))
            engine.step(PlaceOrder(account, request, 0))
        pairs.append(kernel)
    return pairs[0], pairs[1]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
            st.sampled_from([-20, -12, -6, 0, 6, 12, 20]),  # mark, 0.1 % from the base: repeats
            st.sampled_from([-12, -4, -2, 0, 2, 4, 12]),  # last − mark, in 0.1 %
            st.integers(0, 3),  # seconds to the next tick: 0 repeats the time
            st.sampled_from([None, None, None, None, "iso", "crs"]),  # an account that trades
            st.booleans(),  # a mark tick before the trade, or the trade alone
        ),
        min_size=1,
        max_size=120,
    )
)
@example(  # a risk level crossed, quiet, then a trade changes the margin ratio at the same mark
    [("SOLUSDT", -20, 0, 1, None, True)] * 2 + [("SOLUSDT", -20, 0, 1, "iso", True)],
)
@settings(max_examples=200, deadline=None)
def test_remembering_quiet_inputs_changes_no_alert(
    path: list[tuple[str, int, int, int, str | None, bool]],
) -> None:
    """Skipping an evaluation whose inputs did not change since a quiet one (or only by a last
    price the divergence rule cannot fire on) gives the same alerts, at the same ticks, as
    evaluating every tick; a trade in between changes the ledger under the memo."""
    fast, slow = _quiet_memo_engine()
    # Within 5 % of the isolated liquidation (9,036) and across its margin-ratio levels, while
    # the cross account holds on: every rule gets to fire, re-arm and cool down.
    base = {"BTCUSDT": D(9_250), "ETHUSDT": D(925), "SOLUSDT": D("92.5")}
    ts = 0
    marks = dict(base)
    for symbol, step, gap, wait, trader, ticks_mark in path:
        ts += wait * S
        if ticks_mark:
            marks[symbol] = (base[symbol] * (1 + D(step) / 1000)).quantize(D("0.1"))
        mark = marks[symbol]
        last = (mark * (1 + D(gap) / 1000)).quantize(D("0.1"))
        outputs = []
        for kernel in (fast, slow):
            alerts: list[Alert] = []
            if trader is not None:
                size = {"BTCUSDT": D("0.3"), "ETHUSDT": D(1), "SOLUSDT": D("0.5")}[symbol]
                request = OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, size)
                alerts += kernel.step(PlaceOrder(trader, request, ts), "order").alerts
            for event in (
                MarkPrice("binance", symbol, mark, None, None, None, ts, ts),
                Trade("binance", symbol, last, D("0.001"), None, str(ts), ts, ts),
            )[0 if ticks_mark else 1 :]:
                alerts += kernel.step(event, "tick").alerts
            outputs.append(alerts)
        assert outputs[0] == outputs[1]
