"""Fills, fees, realized PnL, isolated margin and funding, computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.core.events import Fill
from bot.core.ledger.account import FeeSchedule
from bot.core.values import Liquidity, MarginMode, OrderSide, PositionMode, PositionSlot, Side
from bot.errors import PositionError
from tests.conftest import make_account

FEES = FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.0005"))
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(side, qty, price, **kw) -> Fill:
    return Fill("BTCUSDT", side, Decimal(qty), Decimal(price), **kw)


def test_open_increase_average_reduce_close_with_fees() -> None:
    account = make_account("10000", fees=FEES)
    first = account.apply_fill(fill(BUY, "0.3", "20000"))
    assert first.fee == Decimal(3)  # 0.3 × 20000 × 0.05 %
    account.apply_fill(fill(BUY, "0.7", "21000", liquidity=Liquidity.MAKER))  # fee 2.94
    position = account.held("BTCUSDT")
    assert position.qty == Decimal("1.0")
    assert position.entry_price == Decimal(20700)  # (6000 + 14700) / 1
    reduced = account.apply_fill(fill(SELL, "0.4", "22000"))
    assert reduced.realized_pnl == Decimal(520)  # 0.4 × (22000 − 20700)
    assert reduced.fee == Decimal("4.4")
    closed = account.apply_fill(fill(SELL, "0.6", "20000"))
    assert closed.realized_pnl == Decimal(-420)
    assert closed.position_side is None
    assert account.position("BTCUSDT") is None
    assert (
        account.wallet_balance
        == Decimal(10000) - 3 - Decimal("2.94") + 520 - Decimal("4.4") - 420 - 6
    )


def test_average_entry_is_kept_to_eight_decimals() -> None:
    account = make_account("100000")
    account.apply_fill(fill(BUY, "1", "100"))
    account.apply_fill(fill(BUY, "2", "101"))
    assert account.held("BTCUSDT").entry_price == Decimal("100.66666667")


def test_one_way_flip_closes_then_opens_the_rest() -> None:
    account = make_account("10000", margin_mode=MarginMode.ISOLATED, leverage="5")
    account.apply_fill(fill(BUY, "1", "10000"))
    assert account.wallet_balance == Decimal(8000)  # 2,000 isolated margin
    flipped = account.apply_fill(fill(SELL, "1.5", "11000"))
    assert flipped.realized_pnl == Decimal(1000)
    position = account.held("BTCUSDT")
    assert (position.side, position.qty, position.entry_price) == (
        Side.SHORT,
        Decimal("0.5"),
        Decimal(11000),
    )
    assert position.isolated_margin == Decimal(1100)  # 0.5 × 11000 / 5
    assert account.wallet_balance == Decimal(8000) + 2000 + 1000 - 1100


def test_isolated_margin_is_released_in_proportion() -> None:
    account = make_account("5000", margin_mode=MarginMode.ISOLATED, leverage="10")
    account.apply_fill(fill(BUY, "2", "10000"))
    account.apply_fill(fill(SELL, "0.5", "10000"))
    assert account.held("BTCUSDT").isolated_margin == Decimal(1500)
    assert account.wallet_balance == Decimal(3500)


def test_hedge_mode_close_never_opens_the_other_side() -> None:
    account = make_account("10000", mode=PositionMode.HEDGE)
    account.apply_fill(fill(BUY, "1", "10000", slot=PositionSlot.LONG))
    with pytest.raises(PositionError, match="holds 1"):
        account.apply_fill(fill(SELL, "2", "10000", slot=PositionSlot.LONG))
    assert account.held("BTCUSDT", PositionSlot.LONG).qty == 1  # untouched
    account.apply_fill(fill(SELL, "1", "10000", slot=PositionSlot.SHORT))
    assert account.held("BTCUSDT", PositionSlot.SHORT).side is Side.SHORT


def test_funding_cross_from_wallet_isolated_from_margin() -> None:
    cross = make_account("1000")
    cross.apply_fill(fill(BUY, "2", "10000"))
    [paid] = cross.apply_funding("BTCUSDT", Decimal("0.0001"), Decimal(10_500))
    assert paid.amount == Decimal("-2.1")  # 2 × 10500 × 0.01 %, longs pay
    assert cross.wallet_balance == Decimal("997.9")
    isolated = make_account("5000", margin_mode=MarginMode.ISOLATED)
    isolated.apply_fill(fill(SELL, "2", "10000"))
    [received] = isolated.apply_funding("BTCUSDT", Decimal("0.0001"), Decimal(10_500))
    assert received.amount == Decimal("2.1")  # shorts receive
    assert isolated.held("BTCUSDT").isolated_margin == Decimal("2002.1")
    assert isolated.wallet_balance == Decimal(3000)
