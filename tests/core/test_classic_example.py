"""The classic example: the same 10x long, isolated versus cross, as the mark price falls.

Two traders each hold 2,000 USDT and buy 1 BTCUSDT at 10,000 (10,000 USDT notional) with 10x
leverage on Binance, MMR 0.4 %, no fees. By hand (Binance FAQ formula, one-way, cum 0):
- isolated, margin 1,000: LP = (1000 − 10000) / (0.004 − 1) = 9,036.1445783...
- cross, wallet 2,000:     LP = (2000 − 10000) / (0.004 − 1) = 8,032.1285140...
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.events import Fill
from bot.core.ledger.figures import account_figures
from bot.core.ledger.liquidation import liquidate_all, liquidation_price
from bot.core.values import MarginMode, OrderSide
from tests.conftest import make_account

ISOLATED_LP = Decimal(-9000) / Decimal("-0.996")
CROSS_LP = Decimal(-8000) / Decimal("-0.996")


def trader(mode: MarginMode):
    account = make_account("2000", margin_mode=mode)
    account.set_mark("BTCUSDT", Decimal(10_000))
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(10_000)))
    return account


def test_liquidation_prices_match_the_hand_computation() -> None:
    isolated, cross = trader(MarginMode.ISOLATED), trader(MarginMode.CROSS)
    iso_lp = liquidation_price(isolated, next(isolated.positions()))
    cross_lp = liquidation_price(cross, next(cross.positions()))
    assert iso_lp == ISOLATED_LP
    assert f"{iso_lp:.2f}" == "9036.14"
    assert cross_lp == CROSS_LP
    assert f"{cross_lp:.2f}" == "8032.13"


def test_isolated_is_liquidated_at_its_price_and_keeps_the_other_half() -> None:
    isolated, cross = trader(MarginMode.ISOLATED), trader(MarginMode.CROSS)
    assert isolated.wallet_balance == Decimal(1000)  # 1,000 moved into the isolated margin
    just_above = Decimal("9036.15")
    at_or_below = Decimal("9036.14")
    for account in (isolated, cross):
        account.set_mark("BTCUSDT", just_above)
    assert liquidate_all(isolated) == []
    for account in (isolated, cross):
        account.set_mark("BTCUSDT", at_or_below)
    [event] = liquidate_all(isolated)
    assert event.margin_mode is MarginMode.ISOLATED
    assert event.loss == Decimal(1000)
    assert isolated.wallet_balance == Decimal(1000)  # the other 1,000 USDT is untouched
    assert list(isolated.positions()) == []
    # The cross trader survives the same price, with the loss on its books.
    assert liquidate_all(cross) == []
    figures = account_figures(cross)
    assert figures.margin_balance == Decimal(2000) + (at_or_below - 10_000)


def test_cross_rides_on_until_its_own_price_and_then_loses_nearly_everything() -> None:
    cross = trader(MarginMode.CROSS)
    cross.set_mark("BTCUSDT", Decimal("8032.13"))
    assert liquidate_all(cross) == []
    cross.set_mark("BTCUSDT", Decimal("8032.12"))
    [event] = liquidate_all(cross)
    assert event.margin_mode is MarginMode.CROSS
    assert event.positions[0].pnl_at_mark == Decimal("-1967.88")
    # At the mark, 32.12 USDT of margin is left; it goes to fee and insurance fund.
    assert event.margin_balance_at_mark == Decimal("32.12")
    assert event.loss == Decimal(2000)
    assert cross.wallet_balance == 0
    assert event.insurance_fund_cover == 0
