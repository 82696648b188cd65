"""OKX USDT swaps: the issue's worked example through `marginbot margin`, the bundled tiers by
size, the ledger's predicate at the liquidation price, and partial liquidation down the tiers
(Bybit's one tier a step and OKX's two), with hypothesis properties per venue."""

from __future__ import annotations

import json
from decimal import Decimal

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calculator import calculate
from bot.core.events import Fill, Liquidation, PartialLiquidation
from bot.core.instruments import Instrument, TierTable
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.ledger.liquidation import (
    isolated_is_liquidatable,
    liquidate_all,
    liquidation_price,
)
from bot.core.values import MarginMode, OrderSide, Side, Venue
from bot.markets.snapshot import bundled_for

OKX_FEES = FeeSchedule(Decimal("0.0002"), Decimal("0.0005"))


def _calc(position: dict[str, str], wallet: str = "10000") -> dict[str, str]:
    document = {"venue": "okx", "wallet_balance": wallet, "positions": [position]}
    result: dict[str, str] = json.loads(calculate(json.dumps(document)))["positions"][0]
    return result


def test_the_issue_example_isolated_long() -> None:
    figures = _calc(
        {
            "symbol": "BTC-USDT-SWAP",
            "side": "long",
            "qty": "0.5",
            "entry_price": "60000",
            "leverage": "10",
            "margin_mode": "isolated",
            "isolated_margin": "3000",
            "maint_margin_rate": "0.004",
            "taker_fee_rate": "0.0005",
        }
    )
    # (0.5 × 60,000 − 3,000) / (0.5 × (1 − 0.004 − 0.0005)) = 54,244.09...
    expected = Decimal(27_000) / (Decimal("0.5") * Decimal("0.9955"))
    assert Decimal(figures["liquidation_price"]) == expected
    assert figures["liquidation_price"].startswith("54244.09")
    # At the entry: MM 120 + fee to close 15.
    assert Decimal(figures["maintenance_margin"]) == Decimal(135)
    assert Decimal(figures["close_fee"]) == Decimal(15)


def test_short_mirror_and_the_default_fee() -> None:
    figures = _calc(
        {
            "symbol": "BTC-USDT-SWAP",
            "side": "short",
            "qty": "0.5",
            "entry_price": "60000",
            "leverage": "10",
            "margin_mode": "isolated",
            "isolated_margin": "3000",
            "maint_margin_rate": "0.004",
        }
    )
    # OKX's regular taker rate 0.05 % by default: (30,000 + 3,000) / (0.5 × 1.0045).
    assert Decimal(figures["liquidation_price"]) == Decimal(33_000) / (
        Decimal("0.5") * Decimal("1.0045")
    )


def test_bundled_instrument_tiers_are_by_size() -> None:
    ada = bundled_for(Venue.OKX)["ADA-USDT-SWAP"]
    assert ada.contract_value == Decimal(100)
    assert ada.lot_size == Decimal(100)
    assert ada.tiers_by_quantity
    # 500 contracts (50,000 ADA) are tier 1; 501 contracts are tier 2, whatever the price.
    assert ada.tiers.tier_for(Decimal(50_000)).maint_margin_rate == Decimal("0.01")
    assert ada.tiers.tier_for(Decimal(50_100)).maint_margin_rate == Decimal("0.015")
    figures = _calc(
        {
            "symbol": "ADA-USDT-SWAP",
            "side": "long",
            "qty": "50100",
            "entry_price": "0.5",
            "leverage": "10",
            "margin_mode": "cross",
            "taker_fee_rate": "0",
        },
        wallet="100000",
    )
    assert Decimal(figures["maintenance_margin"]) == Decimal(50100) * Decimal("0.5") * Decimal(
        "0.015"
    )


def _account(venue: Venue, tiers: TierTable, wallet: str = "100000") -> Account:
    instrument = Instrument(
        venue, "XUSDT", "X", "USDT", "USDT", tiers, Decimal("0.01"), Decimal(1), Decimal(1)
    )
    if venue is Venue.OKX:
        from dataclasses import replace

        instrument = replace(instrument, tiers_by_quantity=True, contract_value=Decimal(1))
    return Account(
        venue,
        {"XUSDT": instrument},
        Decimal(wallet),
        fees=OKX_FEES,
        default_margin_mode=MarginMode.ISOLATED,
        default_leverage=Decimal(10),
    )


def test_the_ledger_liquidates_at_the_formula_price_fees_included() -> None:
    account = _account(Venue.OKX, TierTable.single(Decimal("0.004")))
    account.apply_fill(Fill("XUSDT", OrderSide.BUY, Decimal(10), Decimal(100)))
    position = account.held("XUSDT")
    assert position.isolated_margin == Decimal(100)
    lp = liquidation_price(account, position)
    assert lp is not None
    assert lp == Decimal(900) / (Decimal(10) * Decimal("0.9955"))
    account.set_mark("XUSDT", lp + Decimal("0.0001"))
    assert not isolated_is_liquidatable(account, position)
    account.set_mark("XUSDT", lp - Decimal("0.0001"))  # lp has 28 digits: just past it
    assert isolated_is_liquidatable(account, position)


# Sizes: tier 1 up to 100, tier 2 to 200, tier 3 to 300, tier 4 beyond (OKX by size; Bybit by
# value at entry 1 here, so the same numbers).
STEPPED = TierTable.from_floors_and_rates(
    [Decimal(0), Decimal(101), Decimal(201), Decimal(301)],
    [Decimal("0.01"), Decimal("0.02"), Decimal("0.03"), Decimal("0.04")],
)
OKX_STEPPED = TierTable(
    tuple(
        t.__class__(t.notional_floor, t.notional_cap, t.maint_margin_rate, Decimal(0), None)
        for t in STEPPED.tiers
    )
)


def _crash(venue: Venue, qty: int, mark: str, margin_extra: str = "0") -> list:
    tiers = OKX_STEPPED if venue is Venue.OKX else STEPPED
    account = _account(venue, tiers)
    account.apply_fill(Fill("XUSDT", OrderSide.BUY, Decimal(qty), Decimal(1)))
    if Decimal(margin_extra):
        account.add_isolated_margin("XUSDT", Decimal(margin_extra))
    account.set_mark("XUSDT", Decimal(mark))
    return [account, *liquidate_all(account)]


def test_bybit_steps_down_one_tier_then_stops_when_healthy() -> None:
    # 350 long at 1, 10x: margin 35 + the fee to close 0.1575; tier 4 (MMR 4 % − 6.03). At
    # 0.921 the margin balance 7.6575 is below MM 8.1275; cut to 300 it is 6.56 against 6.115.
    account, *outcomes = _crash(Venue.BYBIT, 350, "0.921")
    assert outcomes
    assert all(isinstance(o, PartialLiquidation) for o in outcomes)
    first = outcomes[0]
    assert (first.tier_before, first.tier_after) == (4, 3)
    assert first.qty_after == Decimal(300)
    assert first.price == Decimal("0.921")
    assert not isolated_is_liquidatable(account, account.held("XUSDT"))


def test_okx_steps_two_tiers_and_bybit_one() -> None:
    # OKX at 0.921: balance 7.35 against 350 × 0.921 × 4.05 % = 13.05; cut two tiers to 200
    # it is 4.2 against 3.78.
    _, *okx = _crash(Venue.OKX, 350, "0.921")
    assert [(o.tier_before, o.tier_after) for o in okx if isinstance(o, PartialLiquidation)][
        :1
    ] == [(4, 2)]


def test_full_liquidation_when_even_the_lowest_tier_would_not_do() -> None:
    _, *outcomes = _crash(Venue.BYBIT, 350, "0.5")
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Liquidation)


def test_binance_liquidates_whole_positions() -> None:
    _, *outcomes = _crash(Venue.BINANCE, 350, "0.9")
    assert [type(o) for o in outcomes] == [Liquidation]


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    venue=st.sampled_from([Venue.BYBIT, Venue.OKX]),
    qty=st.integers(1, 500),
    beyond=st.integers(0, 600),  # how far past the liquidation price the mark is, in 0.01 %
    side=st.sampled_from(list(Side)),
)
def test_a_partial_step_always_leaves_a_smaller_position_in_a_lower_tier(
    venue: Venue, qty: int, beyond: int, side: Side
) -> None:
    """And money is conserved: wallet + isolated margin moves only by realized PnL and fees;
    what a full liquidation takes is the margin left."""
    tiers = OKX_STEPPED if venue is Venue.OKX else STEPPED
    account = _account(venue, tiers)
    order = OrderSide.BUY if side is Side.LONG else OrderSide.SELL
    account.apply_fill(Fill("XUSDT", order, Decimal(qty), Decimal(1)))
    account.wallet_balance = Decimal(0)  # all in the position: a step must not touch the wallet
    before = account.wallet_balance + account.held("XUSDT").isolated_margin
    lp = liquidation_price(account, account.held("XUSDT"))
    assert lp is not None
    account.set_mark("XUSDT", lp * (1 - side.sign * Decimal(beyond).scaleb(-4)))
    outcomes = liquidate_all(account)
    hypothesis.event(" then ".join(type(o).__name__ for o in outcomes) or "nothing")
    booked = Decimal(0)
    for outcome in outcomes:
        if isinstance(outcome, PartialLiquidation):
            assert outcome.qty_after < outcome.qty_before
            assert outcome.tier_after < outcome.tier_before
            booked += outcome.realized_pnl - outcome.fee
        else:
            booked -= outcome.loss
    left = account.position("XUSDT")
    after = account.wallet_balance + (left.isolated_margin if left else Decimal(0))
    assert after == before + booked
    assert account.wallet_balance >= 0
    if left is not None:
        assert not isolated_is_liquidatable(account, left)


def test_the_engine_cancels_orders_first_then_steps_down_and_alerts() -> None:
    """Through the kernel: a Bybit position in tier 4 with a resting order. The mark tick that
    makes it liquidatable cancels the order, cuts the position to tier 3 (an event and a
    `partial_liquidation` alert), and the rest survives."""
    from bot.core.commands import PlaceOrder
    from bot.core.engine import Engine
    from bot.core.engine_events import OrderCanceled, PositionPartiallyLiquidated
    from bot.core.kernel import Kernel
    from bot.core.market import MarkPrice, Trade
    from bot.core.orders.model import OrderRequest, OrderType

    account = _account(Venue.BYBIT, STEPPED)
    kernel = Kernel(Engine({"b": account}))
    kernel.step(MarkPrice("bybit", "XUSDT", Decimal(1), None, None, None, 0, 0), "m0")
    kernel.step(Trade("bybit", "XUSDT", Decimal(1), Decimal(1), OrderSide.BUY, "t", 0, 0), "t0")
    market = OrderRequest("XUSDT", OrderSide.BUY, OrderType.MARKET, Decimal(350))
    kernel.step(PlaceOrder("b", market, 0), "o1")
    limit = OrderRequest("XUSDT", OrderSide.SELL, OrderType.LIMIT, Decimal(10), price=Decimal(2))
    kernel.step(PlaceOrder("b", limit, 0), "o2")
    assert account.open_order_count("XUSDT") == 1
    step = kernel.step(MarkPrice("bybit", "XUSDT", Decimal("0.921"), None, None, None, 1, 1), "m1")
    kinds = [type(e) for e in step.events]
    assert kinds.index(OrderCanceled) < kinds.index(PositionPartiallyLiquidated)
    [partial] = [e for e in step.events if isinstance(e, PositionPartiallyLiquidated)]
    assert (partial.step.tier_before, partial.step.tier_after) == (4, 3)
    assert [a.kind for a in step.alerts if a.kind == "partial_liquidation"] == [
        "partial_liquidation"
    ]
    assert account.held("XUSDT").qty == Decimal(300)
    assert account.open_order_count("XUSDT") == 0


def test_long_short_mode_cross_legs_share_one_price() -> None:
    """OKX long/short mode, cross: both legs of the symbol and the wallet together. Long 0.5
    at 100, short 1 at 110, wallet 20, MMR 1 %, taker 0.05 %: equity 80 − 0.5·P meets the
    requirement 1.5·P·1.05 % at P = 80 / 0.51575."""
    legs = [("long", "0.5", "100"), ("short", "1", "110")]
    document = {
        "venue": "okx",
        "position_mode": "hedge",
        "wallet_balance": "20",
        "positions": [
            {
                "symbol": "X-USDT-SWAP",
                "side": side,
                "qty": qty,
                "entry_price": entry,
                "leverage": "10",
                "margin_mode": "cross",
                "mark_price": "105",
                "maint_margin_rate": "0.01",
                "taker_fee_rate": "0.0005",
            }
            for side, qty, entry in legs
        ],
    }
    long_leg, short_leg = json.loads(calculate(json.dumps(document)))["positions"]
    expected = Decimal(80) / Decimal("0.51575")
    assert Decimal(long_leg["liquidation_price"]) == expected
    assert Decimal(short_leg["liquidation_price"]) == expected
