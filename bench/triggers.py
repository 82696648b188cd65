"""Trigger-book cost per mark tick, by the number of resting stop/take-profit triggers.

    python -m bench.triggers [--quick]

Half the triggers are buy stops above the price, half sell stops below it; the mark then moves
inside the gap, so no trigger fires: the cost measured is what every tick pays to learn that.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from bench.common import figure, median_seconds
from bot.core.commands import PlaceOrder
from bot.core.engine import Engine
from bot.core.instruments import Instrument, TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.market import MarkPrice
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.values import OrderSide, Venue

TICKS = 20_000


def engine_with(triggers: int) -> Engine:
    instrument = Instrument(
        Venue.BINANCE,
        "BTCUSDT",
        "BTC",
        "USDT",
        "USDT",
        TierTable.single(Decimal("0.004")),
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal(5),
    )
    account = Account(
        Venue.BINANCE,
        {"BTCUSDT": instrument},
        Decimal(10) ** 12,
        fees=FeeSchedule(Decimal(0), Decimal(0)),
    )
    engine = Engine({"a": account})
    engine.step(MarkPrice("binance", "BTCUSDT", Decimal(10_000), None, None, None, 0, 0))
    for n in range(triggers // 2):
        for side, price in (
            (OrderSide.BUY, Decimal(10_010) + n),
            (OrderSide.SELL, Decimal(9_990) - Decimal(n) / 10),
        ):
            engine.step(
                PlaceOrder(
                    "a",
                    OrderRequest(
                        "BTCUSDT",
                        side,
                        OrderType.STOP_MARKET,
                        Decimal("0.001"),
                        trigger_price=price.quantize(Decimal("0.1")),
                        trigger_source=PriceSource.MARK,
                    ),
                    0,
                )
            )
    return engine


def measure(triggers: int, ticks: int) -> float:
    engine = engine_with(triggers)
    marks = [
        MarkPrice(
            "binance", "BTCUSDT", Decimal(10_000) + Decimal(i % 50) / 10 - 2, None, None, None, i, i
        )
        for i in range(ticks)
    ]

    def run() -> None:
        for event in marks:
            engine.step(event)

    resting = sum(len(book) for book in engine.desks["a"].triggers.values())
    assert resting == triggers, resting
    return median_seconds(run, 3) / ticks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    quick = parser.parse_args().quick
    ticks = 2_000 if quick else TICKS
    for triggers in (100, 1_000) if quick else (0, 100, 1_000, 10_000):
        figure(
            "mark_tick_cost",
            measure(triggers, ticks),
            "µs/tick",
            resting_triggers=triggers,
            ticks=ticks,
            includes="engine.step: board, mark, trigger book, liquidation check",
        )


if __name__ == "__main__":
    main()
