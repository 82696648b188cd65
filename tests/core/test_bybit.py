"""Bybit USDT perpetual formulas against the help-centre article and hand computations."""

from __future__ import annotations

from decimal import Decimal

from bot.core.events import Fill
from bot.core.instruments import TierTable
from bot.core.ledger.liquidation import (
    cross_is_liquidatable,
    isolated_is_liquidatable,
    liquidation_price,
)
from bot.core.ledger.margin import Leg, LiquidationInputs, bybit
from bot.core.values import MarginMode, OrderSide, Side, Venue
from tests.conftest import instrument, make_account

MMR_HALF_PERCENT = TierTable.single(Decimal("0.005"))


def test_article_worked_example_long_50x() -> None:
    # "Liquidation Price (USDT Contract)": long 1 BTC at 20,000, 50x, MMR 0.5 %:
    # IM 400, MM 100, LP = 20000 − (400 − 100) = 19,700.
    leg = Leg(Side.LONG, Decimal(1), Decimal(20_000), MMR_HALF_PERCENT)
    lp = bybit.CLASSIC.liquidation_price(
        LiquidationInputs((leg,), mark_price=Decimal(20_000), wallet_balance=Decimal(400))
    )
    assert lp == Decimal(19_700)


def test_short_with_extra_margin_and_mm_deduction() -> None:
    # Short 2 at 30,000, 10x → IM 6,000, extra 500; MMR 1 %, mmDeduction 100 → MM 500.
    # LP = EP + (IM − MM)/size + extra/size = 30000 + 5500/2 + 500/2 = 33,000.
    tiers = TierTable.single(Decimal("0.01"), Decimal(100))
    leg = Leg(Side.SHORT, Decimal(2), Decimal(30_000), tiers)
    lp = bybit.CLASSIC.liquidation_price(
        LiquidationInputs((leg,), mark_price=Decimal(30_000), wallet_balance=Decimal(6500))
    )
    assert lp == Decimal(33_000)


def test_ledger_isolated_position_flips_at_the_article_price() -> None:
    btc = instrument(venue=Venue.BYBIT, tiers=MMR_HALF_PERCENT)
    account = make_account(
        "1000", btc, venue=Venue.BYBIT, margin_mode=MarginMode.ISOLATED, leverage="50"
    )
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(20_000)))
    position = account.held("BTCUSDT")
    assert position.isolated_margin == Decimal(400)
    assert liquidation_price(account, position) == Decimal(19_700)
    account.set_mark("BTCUSDT", Decimal("19700.01"))
    assert not isolated_is_liquidatable(account, position)
    account.set_mark("BTCUSDT", Decimal(19_700))
    assert isolated_is_liquidatable(account, position)


def test_cross_price_solves_equity_equals_maintenance() -> None:
    # Cross wallet 1,000; long 1 BTC at 20,000 (MM 100) and short 10 ETH at 1,000 (MM 50, MMR
    # 0.5 %) with ETH mark 1,100 (UPNL −1,000). BTC liquidates where
    # 1000 − 1000 + (P − 20000) = 150  →  P = 20,150.
    btc = instrument("BTCUSDT", Venue.BYBIT, MMR_HALF_PERCENT)
    eth = instrument("ETHUSDT", Venue.BYBIT, MMR_HALF_PERCENT)
    account = make_account("1000", btc, eth, venue=Venue.BYBIT)
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(20_000)))
    account.apply_fill(Fill("ETHUSDT", OrderSide.SELL, Decimal(10), Decimal(1_000)))
    account.set_mark("ETHUSDT", Decimal(1_100))
    assert liquidation_price(account, account.held("BTCUSDT")) == Decimal(20_150)
    account.set_mark("BTCUSDT", Decimal("20150.01"))
    assert not cross_is_liquidatable(account)
    account.set_mark("BTCUSDT", Decimal(20_150))
    assert cross_is_liquidatable(account)
