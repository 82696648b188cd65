"""The engine over the real shipped session: funding at 00:00 UTC, a bracket on real prices,
and byte-identical output."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

from bot.core.commands import Command, PlaceOrder, SetTakeProfitStopLoss
from bot.core.engine import Engine
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.market import MarkPrice
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.values import MarginMode, OrderSide, Venue
from bot.markets.snapshot import bundled_for
from bot.session.events_out import event_line
from bot.session.replay import replay
from tests.conftest import ROOT

SHIPPED = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
OPEN = OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.1"))


def run(mode: MarginMode, bracket: bool) -> list[dict]:
    """Replay the session through an engine; at the first mark, open 0.1 BTC long."""
    account = Account(
        Venue.BINANCE,
        bundled_for(Venue.BINANCE),
        Decimal(5000),
        fees=FeeSchedule(Decimal("0.0002"), Decimal("0.0005")),
        default_margin_mode=mode,
        default_leverage=Decimal(10),
    )
    engine = Engine({"trader": account})
    out: list[bytes] = []

    def sink(event: object) -> None:
        out.extend(event_line(result) for result in engine.step(event))  # type: ignore[arg-type]
        if isinstance(event, MarkPrice) and not out:
            commands: list[Command] = [PlaceOrder("trader", OPEN, event.ts_event)]
            if bracket:
                commands.append(
                    SetTakeProfitStopLoss(
                        "trader",
                        "BTCUSDT",
                        event.ts_event,
                        take_profit=Decimal(28155),
                        stop_loss=Decimal(28000),
                        take_profit_source=PriceSource.LAST,
                        stop_loss_source=PriceSource.MARK,
                    )
                )
            for command in commands:
                out.extend(event_line(result) for result in engine.step(command))

    replay(SHIPPED, sink=sink)
    return [json.loads(line) for line in out]


def expected_funding() -> tuple[Decimal, Decimal]:
    """The rate announced before 00:00 UTC and the mark of the first update after it."""
    previous = None
    with gzip.open(SHIPPED, "rt") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("t") != "recv" or "markPrice" not in record["data"]:
                continue
            data = json.loads(record["data"])["data"]
            if previous is not None and data["T"] > previous["T"]:
                return Decimal(previous["r"]), Decimal(data["p"])
            previous = data
    raise AssertionError("the session crosses a funding time")


def test_funding_is_settled_once_at_the_funding_time() -> None:
    rate, mark = expected_funding()
    events = run(MarginMode.CROSS, bracket=False)
    assert [e["type"] for e in events[:2]] == ["order_accepted", "order_filled"]
    [settled] = [e for e in events if e["type"] == "funding_settled"]
    funding = settled["funding"]
    assert Decimal(funding["funding_rate"]) == rate  # 0.00002760, announced before 00:00
    expected = -(Decimal("0.1") * mark * rate).quantize(Decimal("1e-8"))
    assert Decimal(funding["amount"]) == expected  # a long pays a positive rate


def test_bracket_take_profit_on_last_fills_and_cancels_the_stop() -> None:
    events = run(MarginMode.ISOLATED, bracket=True)
    kinds = [(e["type"], e.get("role")) for e in events]
    assert ("order_triggered", "take_profit") in kinds
    assert ("order_filled", "take_profit") in kinds
    [canceled] = [e for e in events if e["type"] == "order_canceled"]
    assert "bracket" in canceled["reason"]
    [tp] = [e for e in events if e["type"] == "order_triggered"]
    assert Decimal(tp["source_price"]) >= Decimal(28155)
    assert not [e for e in events if e["type"] == "funding_settled"]  # closed before 00:00


def test_engine_output_is_byte_identical_across_runs() -> None:
    assert run(MarginMode.ISOLATED, bracket=True) == run(MarginMode.ISOLATED, bracket=True)
