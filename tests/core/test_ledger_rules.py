"""Every rule the exchanges enforce, refused with a message that says what to do."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.core.events import Fill
from bot.core.instruments import TierTable
from bot.core.values import MarginMode, OrderSide, PositionMode, PositionSlot, Venue
from bot.errors import (
    InputError,
    InsufficientBalance,
    LeverageRefused,
    MarginAdjustmentRefused,
    ModeChangeRefused,
    PositionError,
    UnknownInstrument,
)
from bot.markets.ccxt_convert import tiers_from_ccxt
from tests.conftest import instrument, make_account, shared_data

BUY = OrderSide.BUY


def opened(margin_mode=MarginMode.CROSS, wallet="2000", leverage="10"):
    account = make_account(wallet, margin_mode=margin_mode, leverage=leverage)
    account.apply_fill(Fill("BTCUSDT", BUY, Decimal(1), Decimal(10_000)))
    return account


def test_margin_mode_change_refused_with_a_position() -> None:
    account = opened()
    with pytest.raises(ModeChangeRefused, match="close it first"):
        account.set_margin_mode("BTCUSDT", MarginMode.ISOLATED)


def test_margin_mode_change_refused_with_an_open_order() -> None:
    account = make_account()
    account.order_opened("BTCUSDT")
    with pytest.raises(ModeChangeRefused, match="cancel them first"):
        account.set_margin_mode("BTCUSDT", MarginMode.ISOLATED)
    account.order_closed("BTCUSDT")
    assert (
        account.set_margin_mode("BTCUSDT", MarginMode.ISOLATED).margin_mode is MarginMode.ISOLATED
    )


def test_position_mode_change_refused_with_a_position_or_order() -> None:
    with pytest.raises(ModeChangeRefused, match="close every position"):
        opened().set_position_mode(PositionMode.HEDGE)
    account = make_account()
    account.order_opened("BTCUSDT")
    with pytest.raises(ModeChangeRefused, match="cancel them first"):
        account.set_position_mode(PositionMode.HEDGE)


def real_btc_tiers() -> TierTable:
    """Binance's BTCUSDT brackets with max leverage (GPL file: read from shared/, not bundled)."""
    document = json.loads(shared_data("freqtrade/binance_leverage_tiers.json").read_text())
    return tiers_from_ccxt(Venue.BINANCE, document["BTC/USDT:USDT"])


def test_leverage_above_the_tier_maximum_is_refused() -> None:
    btc = instrument(tiers=real_btc_tiers())
    account = make_account("1000000", btc, leverage="20")
    account.apply_fill(Fill("BTCUSDT", BUY, Decimal(2), Decimal(30_000)))  # notional 60,000
    # 60,000 is in bracket 2 (50k–600k, max 100x): 125x is refused, 100x allowed.
    with pytest.raises(LeverageRefused, match=r"exceeds 50000.*use at most 100x"):
        account.set_leverage("BTCUSDT", Decimal(125))
    assert account.set_leverage("BTCUSDT", Decimal(100)).leverage == 100
    with pytest.raises(LeverageRefused, match="choose 1 to 125"):
        account.set_leverage("BTCUSDT", Decimal(150))
    with pytest.raises(LeverageRefused, match="choose 1 to 125"):
        account.set_leverage("BTCUSDT", Decimal("0.5"))


def test_opening_beyond_the_tier_limit_or_the_balance_is_refused() -> None:
    btc = instrument(tiers=real_btc_tiers())
    account = make_account("1000000", btc, leverage="125")
    with pytest.raises(LeverageRefused, match="maximum at 125x"):
        account.check_can_open(Fill("BTCUSDT", BUY, Decimal(2), Decimal(30_000)))
    poor = make_account("100", leverage="10")
    with pytest.raises(InsufficientBalance, match=r"needs 1000 USDT.*only 100 is available"):
        poor.check_can_open(Fill("BTCUSDT", BUY, Decimal(1), Decimal(10_000)))


def test_isolated_margin_add_and_remove_limits() -> None:
    account = opened(MarginMode.ISOLATED)
    added = account.add_isolated_margin("BTCUSDT", Decimal(300))
    assert (added.isolated_margin, added.wallet_balance) == (Decimal(1300), Decimal(700))
    with pytest.raises(InsufficientBalance, match="only 700 is available"):
        account.add_isolated_margin("BTCUSDT", Decimal(701))
    account.set_mark("BTCUSDT", Decimal(9_900))  # loss 100, IM at mark 990
    assert account.removable_isolated_margin(account.held("BTCUSDT")) == Decimal(210)
    with pytest.raises(MarginAdjustmentRefused, match="at most 210 can be removed"):
        account.remove_isolated_margin("BTCUSDT", Decimal(211))
    account.remove_isolated_margin("BTCUSDT", Decimal(210))
    assert account.held("BTCUSDT").isolated_margin == Decimal(1090)


def test_isolated_margin_refused_on_cross_or_missing_positions() -> None:
    with pytest.raises(MarginAdjustmentRefused, match="cross margin"):
        opened().add_isolated_margin("BTCUSDT", Decimal(1))
    with pytest.raises(MarginAdjustmentRefused, match="open one before"):
        make_account().add_isolated_margin("BTCUSDT", Decimal(1))
    with pytest.raises(InputError, match="must be positive"):
        opened(MarginMode.ISOLATED).add_isolated_margin("BTCUSDT", Decimal(0))


def test_fills_contradicting_mode_or_position_are_refused_untouched() -> None:
    account = opened()
    with pytest.raises(PositionError, match="one-way mode"):
        account.apply_fill(Fill("BTCUSDT", BUY, Decimal(1), Decimal(1), slot=PositionSlot.LONG))
    with pytest.raises(PositionError, match="reduce-only"):
        account.apply_fill(Fill("BTCUSDT", BUY, Decimal(1), Decimal(10_000), reduce_only=True))
    with pytest.raises(PositionError, match="reduce-only"):
        account.apply_fill(
            Fill("BTCUSDT", OrderSide.SELL, Decimal(2), Decimal(10_000), reduce_only=True)
        )
    with pytest.raises(InputError, match="positive quantity"):
        account.apply_fill(Fill("BTCUSDT", BUY, Decimal(-1), Decimal(10_000)))
    with pytest.raises(UnknownInstrument, match="no instrument data for ETHUSDT"):
        account.apply_fill(Fill("ETHUSDT", BUY, Decimal(1), Decimal(1)))
    hedge = make_account(mode=PositionMode.HEDGE)
    with pytest.raises(PositionError, match="long or the short"):
        hedge.apply_fill(Fill("BTCUSDT", BUY, Decimal(1), Decimal(1)))
    assert account.held("BTCUSDT").qty == 1
    assert account.wallet_balance == 2000
