"""`marginbot compare`: the same position as isolated and as cross, on the simulator's
scripted crash and on the demo's session (the shipped Binance session, then the crash)."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.compare import compare
from bot.compare.whatif import Scenario
from bot.core.engine import Engine
from bot.core.ledger.account import Account
from bot.core.ledger.liquidation import liquidation_price
from bot.core.market import MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType
from bot.core.values import MarginMode, OrderSide, Venue
from bot.errors import MarginbotError
from bot.markets.snapshot import bundled_for
from bot.session.importers import import_scenario, write_source
from bot.session.replay import replay
from tests.conftest import MARGINBOT, ROOT

D = Decimal
SCHEMA = json.loads((ROOT / "docs/schemas/compare.schema.json").read_text())
CRASH = ROOT / "config/scenarios/crash.toml"


@pytest.fixture(scope="module")
def crash_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "crash.jsonl.gz"
    import_scenario(CRASH, path)
    return path


def _expected_isolated_liquidation(session: Path, qty: Decimal) -> tuple[int, Decimal]:
    """Where the ledger says it happens: the first mark at or past the isolated position's
    liquidation price, the position opened at the first trade after a mark."""
    marks: list[MarkPrice] = []
    entry: list[Trade] = []

    def sink(event: object) -> None:
        if isinstance(event, MarkPrice):
            marks.append(event)
        elif isinstance(event, Trade) and marks and not entry:
            entry.append(event)

    replay(session, sink=sink)
    account = Account(Venue.BINANCE, bundled_for(Venue.BINANCE), D(2000),
                      default_leverage=D(10), default_margin_mode=MarginMode.ISOLATED)  # fmt: skip
    engine = Engine({"a": account})
    engine.step(marks[0])
    engine.step(entry[0])
    from bot.core.commands import PlaceOrder

    engine.step(PlaceOrder("a", OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, qty), 0))
    position = account.position("BTCUSDT")
    assert position is not None
    lp = liquidation_price(account, position)
    assert lp is not None
    first = next(m for m in marks if m.ts_event > entry[0].ts_event and m.mark_price <= lp)
    return first.ts_event, first.mark_price


def test_on_the_scripted_crash_isolated_is_liquidated_where_the_ledger_says(
    crash_session: Path,
) -> None:
    scenario = Scenario("BTCUSDT", "long", D(1), D(10), D(2000), grid=(D(3), D(20), D(5)))
    result = compare(crash_session, scenario)
    jsonschema.validate(result, SCHEMA)
    isolated, cross = result["modes"]["isolated"], result["modes"]["cross"]
    ts, mark = _expected_isolated_liquidation(crash_session, D(1))
    assert isolated["liquidated"] is True
    assert (isolated["liquidated_at"]["ts_event"], isolated["liquidated_at"]["mark_price"]) == (
        ts, str(mark),
    )  # fmt: skip
    assert D(isolated["margin_lost"]) == D(1000)  # all of the isolated margin
    assert cross["liquidated"] is False
    assert D(cross["closest_liquidation_distance"]["by_mark"]["distance"]) > 0
    # The last price lags the mark down: by the last, the isolated position looked safer.
    closest = isolated["closest_liquidation_distance"]
    assert D(closest["by_last"]["distance"]) > D(closest["by_mark"]["distance"])
    assert "mark_last_divergence" in isolated["alert_counts"]
    assert "Isolated capped the loss at its margin" in result["verdict"]
    # The grid, lowest leverage first: 3x and 5x cannot open 10,000 on a 2,000 wallet.
    assert [g["leverage"] for g in result["grid"]] == ["3", "5", "10", "20"]
    assert result["grid"][0]["isolated"]["opened"] is False
    assert "needs" in result["grid"][0]["isolated"]["refused"]
    # Higher leverage, less isolated margin: liquidated sooner.
    by = {g["leverage"]: g for g in result["grid"]}
    assert by["20"]["isolated"]["liquidated_at"]["ts_event"] < ts
    assert compare(crash_session, scenario) == result  # the same answer every time


def test_a_short_and_an_exit_time(crash_session: Path) -> None:
    """A short gains on the crash; an exit before the bottom stops the comparison there."""
    entry = compare(crash_session, Scenario("BTCUSDT", "short", D(1), D(10), D(2000)))
    assert not entry["modes"]["isolated"]["liquidated"]
    assert D(entry["modes"]["cross"]["pnl"]) > 0
    start = entry["entry"]["ts_event"]
    early = compare(
        crash_session,
        Scenario("BTCUSDT", "long", D(1), D(10), D(2000), exit_ns=start + 30 * 10**9),
    )
    assert early["exit"]["ts_event"] <= start + 30 * 10**9
    assert not early["modes"]["isolated"]["liquidated"]


def test_the_demo_session_gives_the_demo_outcome(tmp_path: Path) -> None:
    """The shipped Binance session, then the crash, as `make demo` plays it: the demo's
    accounts (10x, 0.355 BTC, 1,000 USDT isolated margin) end as the live demo says."""
    from bot.sim.scenario import load_scenario
    from bot.sim.sources import SessionSource, SessionThenScenario

    session = tmp_path / "demo.jsonl.gz"
    source = SessionThenScenario(
        SessionSource(ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz", ("binance",)),
        load_scenario(CRASH),
    )
    write_source(source, session, ("BTCUSDT",), {"made_by": "tests/compare"})
    scenario = Scenario("BTCUSDT", "long", D("0.355"), D(10), D(2000), isolated_margin=D(1000))
    result = compare(session, scenario)
    isolated, cross = result["modes"]["isolated"], result["modes"]["cross"]
    assert isolated["liquidated"]
    assert cross["liquidated"] is False
    # The isolated liquidation price of the demo: 25,430.80 for the entry at 28,145.20.
    assert round(D(isolated["liquidated_at"]["liquidation_price"]), 2) == D("25430.80")
    assert D(isolated["equity_after"]) == D(isolated["wallet_after"])


def test_the_command_line_writes_json_and_html(crash_session: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [MARGINBOT, "compare", str(crash_session), "--symbol", "btcusdt", "--side", "long",
         "--qty", "1", "--leverage", "10", "--wallet", "2000", "--leverage-grid", "5,20",
         "--json", str(tmp_path / "c.json"), "--html", str(tmp_path / "c.html")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Isolated at 10x was liquidated at mark" in done.stdout
    jsonschema.validate(json.loads((tmp_path / "c.json").read_text()), SCHEMA)
    page = (tmp_path / "c.html").read_text()
    assert "<script src=" not in page  # nothing fetched at view time
    assert "https://unpkg" not in page
    good = {"--symbol": "BTCUSDT", "--side": "long", "--qty": "1", "--leverage": "10",
            "--wallet": "2000"}  # fmt: skip
    for flag, value in (("--entry", "tomorrow"), ("--qty", "-1"), ("--symbol", "NOPEUSDT")):
        options = {**good, flag: value}
        args = [MARGINBOT, "compare", str(crash_session)]
        for name, text in options.items():
            args += [name, text]
        refused = subprocess.run(args, capture_output=True, text=True, check=False)
        assert refused.returncode == 2, (flag, refused.stdout, refused.stderr)
        assert "Traceback" not in refused.stderr


NUMBER = st.one_of(
    st.sampled_from([D("0.001"), D("0.1"), D(1), D(2), D(5), D(10), D(20), D(50), D(2000)]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10, max_value=10**7),
    st.sampled_from([D("0"), D("1e-30"), D("1e30"), D("200"), D("201"), D("0.00001")]),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    qty=NUMBER, leverage=NUMBER, wallet=NUMBER, margin=st.none() | NUMBER,
    side=st.sampled_from(["long", "short"]),
    entry=st.none() | st.integers(0, 2 * 10**18), exit_=st.none() | st.integers(0, 2 * 10**18),
    grid=st.lists(NUMBER, max_size=3),
)  # fmt: skip
def test_any_position_is_compared_or_refused_in_words(
    crash_session: Path,
    qty: Decimal,
    leverage: Decimal,
    wallet: Decimal,
    margin: Decimal | None,
    side: str,
    entry: int | None,
    exit_: int | None,
    grid: list[Decimal],
) -> None:
    scenario = Scenario("BTCUSDT", side, qty, leverage, wallet, margin, entry, exit_,  # type: ignore[arg-type]
                        grid=tuple(grid))  # fmt: skip
    try:
        result = compare(crash_session, scenario)
    except MarginbotError as exc:
        said = str(exc)
    else:
        jsonschema.validate(result, SCHEMA)
        for mode in result["modes"].values():
            assert mode["opened"] or mode["refused"]
        return
    assert said
