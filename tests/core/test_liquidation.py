"""Liquidation effects: isolated touches nothing else, cross takes every cross position."""

from __future__ import annotations

from decimal import Decimal

from bot.core.events import Fill
from bot.core.instruments import TierTable
from bot.core.ledger.liquidation import liquidatable, liquidate_all
from bot.core.values import MarginMode, OrderSide, Side
from tests.conftest import instrument, make_account

BTC = instrument("BTCUSDT", liquidation_fee_rate=Decimal("0.0125"))
ETH = instrument("ETHUSDT", tiers=TierTable.single(Decimal("0.005")))
SOL = instrument("SOLUSDT", tiers=TierTable.single(Decimal("0.01")))


def mixed_account():
    account = make_account("3000", BTC, ETH, SOL)
    account.set_margin_mode("BTCUSDT", MarginMode.ISOLATED)
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000)))  # 1,000 iso
    account.apply_fill(Fill("ETHUSDT", OrderSide.SELL, Decimal(5), Decimal(1_000)))
    account.apply_fill(Fill("SOLUSDT", OrderSide.BUY, Decimal(100), Decimal(20)))
    return account


def test_isolated_liquidation_leaves_wallet_and_cross_positions_alone() -> None:
    account = mixed_account()
    account.set_mark("BTCUSDT", Decimal(8_000))
    [target] = liquidatable(account)
    assert target.margin_mode is MarginMode.ISOLATED
    [event] = liquidate_all(account)
    # Closed at mark 8,000 the position would be 1,000 short of its margin: the insurance fund
    # covers the deficit; the wallet is untouched.
    assert event.insurance_fund_cover == Decimal(1000)
    assert event.clearance_fee == 0
    assert account.wallet_balance == Decimal(2000)
    assert {p.symbol for p in account.positions()} == {"ETHUSDT", "SOLUSDT"}


def test_clearance_fee_comes_from_the_margin_left_at_mark() -> None:
    account = mixed_account()
    account.set_mark("BTCUSDT", Decimal(9030))  # margin left 30, fee due 112.875 → capped
    [event] = liquidate_all(account)
    assert (event.clearance_fee, event.insurance_fund_gain) == (Decimal(30), Decimal(0))


def test_cross_liquidation_takes_every_cross_position_together() -> None:
    account = mixed_account()
    account.set_mark("ETHUSDT", Decimal(1_390))  # short loses 1,950 of the 2,000 wallet
    [event] = liquidate_all(account)
    assert event.margin_mode is MarginMode.CROSS
    assert {(p.symbol, p.side) for p in event.positions} == {
        ("ETHUSDT", Side.SHORT),
        ("SOLUSDT", Side.LONG),
    }
    assert account.wallet_balance == 0
    assert [p.symbol for p in account.positions()] == ["BTCUSDT"]  # isolated survives
    assert event.loss == Decimal(2000)
