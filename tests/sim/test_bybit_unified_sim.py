"""The simulator's Bybit account is a Unified one, as every Bybit testnet account now is: its
`position/list` rows carry the fee to close in `positionIM` and `positionMM`, and an isolated
position's `positionBalance` reserves it, as the real answers do."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from bot.core.commands import PlaceOrder, SetMarginMode
from bot.core.market import MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType
from bot.core.values import MarginMode, OrderSide
from bot.sim.bybit_exchange import SimBybitExchange
from bot.sim.rest import _data


def _rows(venue: SimBybitExchange) -> list[dict[str, Any]]:
    response = venue.positions({})
    assert response.text is not None
    rows: list[dict[str, Any]] = json.loads(response.text)["result"]["list"]
    return rows


def test_positions_carry_the_fee_to_close() -> None:
    venue = SimBybitExchange(_data("bybit_instruments.json"), "k", "s")
    now = time.time_ns()
    venue.engine.step(SetMarginMode("sim", "ETHUSDT", MarginMode.ISOLATED, now))
    venue.engine.step(MarkPrice("bybit", "ETHUSDT", Decimal(2000), None, None, None, now, now))
    venue.engine.step(
        Trade("bybit", "ETHUSDT", Decimal(2000), Decimal(1), OrderSide.BUY, "t", now, now)
    )
    order = OrderRequest("ETHUSDT", OrderSide.BUY, OrderType.MARKET, Decimal(1))
    venue.engine.step(PlaceOrder("sim", order, now))
    [row] = _rows(venue)
    leverage = Decimal(row["leverage"])
    entry = Decimal(row["avgPrice"])
    # Fee to close = size × bankruptcy price × taker 0.055 %, the long bankruptcy EP(1 − 1/L).
    fee = (entry * (1 - 1 / leverage) * Decimal("0.00055")).quantize(Decimal("1e-8"))
    assert Decimal(row["positionIM"]) == entry / leverage + fee
    assert Decimal(row["positionMM"]) == entry * Decimal("0.005") + fee
    assert Decimal(row["positionBalance"]) == entry / leverage + fee
