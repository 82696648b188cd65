"""Binance USDⓈ-M formulas against the FAQ's worked example and hand computations.

FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts": a cross wallet of
1,535,443.01 USDT holds BTCUSDT long 109.488 at 32,481.98 (mark 31,967.27, MMR 2.5 %,
cum 16,300) and ETHUSDT long 3,683.979 at 1,456.84 (mark 1,335.18, MMR 10 %, cum 135,365).
Published liquidation prices: BTC 26,316.89 (cross), ETH 1,153.26 (cross); with the same wallet
as an isolated wallet: BTC 18,778.73, ETH 1,114.78.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from bot.core.events import Fill
from bot.core.instruments import TierTable
from bot.core.ledger.account import Position
from bot.core.ledger.liquidation import cross_is_liquidatable, liquidation_price
from bot.core.ledger.margin import Leg, LiquidationInputs, binance
from bot.core.values import MarginMode, OrderSide, PositionMode, PositionSlot, Side
from tests.conftest import instrument, make_account

WALLET = Decimal("1535443.01")
BTC = instrument("BTCUSDT", tiers=TierTable.single(Decimal("0.025"), Decimal(16300)))
ETH = instrument("ETHUSDT", tiers=TierTable.single(Decimal("0.1"), Decimal(135365)))


def faq_account(margin_mode: MarginMode):
    account = make_account(str(WALLET), BTC, ETH, margin_mode=margin_mode)
    for symbol, qty, entry, mark in (
        ("BTCUSDT", "109.488", "32481.98", "31967.27"),
        ("ETHUSDT", "3683.979", "1456.84", "1335.18"),
    ):
        account.load_position(
            Position(
                symbol,
                PositionSlot.BOTH,
                Side.LONG,
                Decimal(qty),
                Decimal(entry),
                margin_mode,
                Decimal(5),
                WALLET if margin_mode is MarginMode.ISOLATED else Decimal(0),
            )
        )
        account.set_mark(symbol, Decimal(mark))
    return account


@pytest.mark.parametrize(
    ("margin_mode", "symbol", "expected"),
    [
        (MarginMode.CROSS, "BTCUSDT", "26316.89"),
        (MarginMode.CROSS, "ETHUSDT", "1153.26"),
        (MarginMode.ISOLATED, "BTCUSDT", "18778.73"),
        (MarginMode.ISOLATED, "ETHUSDT", "1114.78"),
    ],
)
def test_faq_worked_example_to_the_cent(margin_mode, symbol, expected) -> None:
    account = faq_account(margin_mode)
    lp = liquidation_price(account, account.held(symbol))
    assert lp is not None
    assert f"{lp:.2f}" == expected


def test_cross_price_moves_with_the_other_symbols_mark() -> None:
    account = faq_account(MarginMode.CROSS)
    btc = account.held("BTCUSDT")
    before = liquidation_price(account, btc)
    account.set_mark("ETHUSDT", Decimal(1400))  # ETH recovers: more equity backs BTC
    after = liquidation_price(account, btc)
    assert after is not None
    assert before is not None
    # By hand: ETH's UPNL rises by 3683.979 × 64.82 and its MM by 3683.979 × 64.82 × 10 %,
    # so the numerator grows by 0.9 × 3683.979 × 64.82 over a denominator of 109.488 × 0.975.
    expected = before - Decimal("0.9") * Decimal("3683.979") * Decimal("64.82") / (
        Decimal("109.488") * Decimal("0.975")
    )
    assert after == pytest.approx(expected, abs=Decimal("1e-18"))
    assert f"{after:.2f}" == "24303.64"  # 26,316.89 − 214,915.97 / 106.7508


def test_hedge_mode_cross_legs_share_one_price() -> None:
    # Long 1 and short 0.5 at 10,000, wallet 1,000, MMR 0.4 %: by hand
    # LP = (1000 − 1·10000 + 0.5·10000) / (1·0.004 + 0.5·0.004 − 1 + 0.5) = −4000 / −0.494.
    account = make_account("1000", mode=PositionMode.HEDGE)
    account.apply_fill(
        Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000), slot=PositionSlot.LONG)
    )
    account.apply_fill(
        Fill("BTCUSDT", OrderSide.SELL, Decimal("0.5"), Decimal(10_000), slot=PositionSlot.SHORT)
    )
    long_lp = liquidation_price(account, account.held("BTCUSDT", PositionSlot.LONG))
    short_lp = liquidation_price(account, account.held("BTCUSDT", PositionSlot.SHORT))
    assert long_lp == short_lp == Decimal(-4000) / Decimal("-0.494")
    account.set_mark("BTCUSDT", Decimal("8097.18"))
    assert not cross_is_liquidatable(account)
    account.set_mark("BTCUSDT", Decimal("8097.16"))
    assert cross_is_liquidatable(account)


def test_hedge_mode_isolated_legs_each_have_their_own_price() -> None:
    account = make_account("5000", mode=PositionMode.HEDGE, margin_mode=MarginMode.ISOLATED)
    account.apply_fill(
        Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000), slot=PositionSlot.LONG)
    )
    account.apply_fill(
        Fill("BTCUSDT", OrderSide.SELL, Decimal(1), Decimal(10_000), slot=PositionSlot.SHORT)
    )
    long_lp = liquidation_price(account, account.held("BTCUSDT", PositionSlot.LONG))
    short_lp = liquidation_price(account, account.held("BTCUSDT", PositionSlot.SHORT))
    assert long_lp == Decimal(-9000) / Decimal("-0.996")  # (1000 − 10000) / (0.004 − 1)
    assert short_lp == Decimal(11000) / Decimal("1.004")  # (1000 + 10000) / (0.004 + 1)


def test_bracket_switch_recomputes_with_the_bracket_at_the_liquidation_price() -> None:
    # BTCUSDT brackets 0–50k at 0.4 % (cum 0) and 50k–600k at 0.5 % (cum 50). An isolated long
    # of 1 BTC at 55,000 with 27,500 margin starts in bracket 2; with bracket 2 the formula gives
    # (27500 + 50 − 55000) / (0.005 − 1) = 27,587.94, a notional in bracket 1, so Binance
    # recomputes with bracket 1: (27500 − 55000) / (0.004 − 1) = 27,610.44.
    tiers = TierTable.from_floors_and_rates(
        [Decimal(0), Decimal(50_000)], [Decimal("0.004"), Decimal("0.005")]
    )
    leg = Leg(Side.LONG, Decimal(1), Decimal(55_000), tiers)
    lp = binance.liquidation_price(
        LiquidationInputs((leg,), mark_price=Decimal(55_000), wallet_balance=Decimal(27_500))
    )
    assert lp == Decimal(-27500) / Decimal("-0.996")
    assert f"{lp:.2f}" == "27610.44"


def test_a_position_that_cannot_be_liquidated_has_no_price() -> None:
    account = make_account("20000")  # 1x-equivalent: the wallet covers the whole notional
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000)))
    assert liquidation_price(account, account.held("BTCUSDT")) is None


def test_maintenance_margin_of_a_real_position_risk_answer() -> None:
    # GET /fapi/v3/positionRisk (shared/data/ccxt excerpt): notional 607.52416678 in bracket 1
    # (0.4 %, cum 0) reports maintMargin 2.43009666 and positionInitialMargin 7.59405208 at 80x:
    # the exact values 2.43009666714888 and 7.59405208484025 truncated to 8 decimals.
    tiers = TierTable.from_floors_and_rates(
        [Decimal(0), Decimal(50_000)], [Decimal("0.004"), Decimal("0.005")]
    )
    leg = Leg(Side.LONG, Decimal("0.009"), Decimal("67445.9"), tiers)
    mm = binance.maintenance_margin(leg, Decimal("67502.68519858"))
    assert mm.quantize(Decimal("0.00000001"), ROUND_DOWN) == Decimal("2.43009666")
    im = binance.initial_margin(leg, Decimal("67502.68519858"), Decimal(80))
    assert im.quantize(Decimal("0.00000001"), ROUND_DOWN) == Decimal("7.59405208")
