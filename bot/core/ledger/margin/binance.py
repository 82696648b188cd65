"""Binance USDⓈ-M futures margin formulas.

Sources:
- Maintenance margin and liquidation price: Binance FAQ "How to Calculate Liquidation Price of
  USDⓈ-M Futures Contracts" (binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93).
  The arrangement below reproduces the FAQ's worked example to the cent
  (tests/core/test_binance_faq.py).
- Maintenance amount continuity: Binance FAQ for COIN-M liquidation price, "Maintenance Amount".
- Initial margin = notional at mark / leverage: `positionInitialMargin` of
  `GET /fapi/v3/positionRisk` (a real response in shared/data/ccxt/binance.usdm-excerpt.json:
  607.52416678 / 80 = 7.59405208, truncated to 8 decimals as Binance reports amounts).
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.instruments import MaintenanceTier
from bot.core.ledger.margin.common import Leg, LiquidationInputs, linear_liquidation_price
from bot.core.values import ZERO, div

reserves_close_fee = False
includes_close_fee = False
# Binance's liquidation protocol says large positions may be reduced in steps, but not by how
# much nor when (FAQ "Liquidation Protocol"): not documented well enough to model; full only.
partial_steps = None


def mark_rate(leg: Leg) -> None:  # noqa: ARG001
    """Brackets follow the notional at the mark: the bands bound the rate from the table."""
    return


def close_fee(leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG001
    """Binance's requirement carries no fee to close."""
    return ZERO


def tier_basis(leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG001
    """Brackets are chosen by the notional at the mark: size × this price."""
    return mark_price


def maintenance_margin(leg: Leg, mark_price: Decimal) -> Decimal:
    """MM = notional × MMR − cum, the bracket chosen by the notional at the mark price."""
    return leg.tiers.maintenance_margin(leg.qty * mark_price)


def initial_margin(leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal:
    return div(leg.qty * mark_price, leverage)


def _solve(inputs: LiquidationInputs, tiers: list[MaintenanceTier]) -> Decimal | None:
    """The FAQ formula for one assumption of brackets.

    LP = (WB − TMM1 + UPNL1 + Σcum − Σ side·qty·EP) / (Σ qty·MMR − Σ side·qty)
    with side = +1 long, −1 short; the one-way term uses Side1BOTH, hedge legs use
    −Position1LONG·EP1LONG and +Position1SHORT·EP1SHORT, which is the same expression.
    """
    numerator = inputs.wallet_balance - inputs.other_maintenance_margin
    numerator += inputs.other_unrealized_pnl
    denominator = ZERO
    for leg, tier in zip(inputs.legs, tiers, strict=True):
        numerator += tier.maint_amount - leg.signed_qty * leg.entry_price
        denominator += leg.qty * tier.maint_margin_rate - leg.signed_qty
    # Equity − MM falls with the price when the denominator is positive: liquidated above.
    return linear_liquidation_price(numerator, denominator, liquidated_above=denominator > ZERO)


def _solve_with_brackets(
    inputs: LiquidationInputs, zero_maintenance: bool = False
) -> Decimal | None:
    if zero_maintenance:
        flat = [MaintenanceTier(ZERO, None, ZERO, ZERO, None) for _ in inputs.legs]
        return _solve(inputs, flat)
    # FAQ note: when the notional at the computed price falls in another bracket, recompute with
    # that bracket. Maintenance margin is continuous in the notional (thanks to cum), so the fixed
    # point is the true root of equity = maintenance margin.
    tiers = [leg.tiers.tier_for(leg.qty * inputs.mark_price) for leg in inputs.legs]
    attempts = 1 + sum(len(leg.tiers.tiers) for leg in inputs.legs)
    result: Decimal | None = None
    for _ in range(attempts):
        result = _solve(inputs, tiers)
        if result is None or result == ZERO:
            return result
        at_result = [leg.tiers.tier_for(leg.qty * result) for leg in inputs.legs]
        if at_result == tiers:
            return result
        tiers = at_result
    return result


def liquidation_price(inputs: LiquidationInputs) -> Decimal | None:
    return _solve_with_brackets(inputs)


def bankruptcy_price(inputs: LiquidationInputs) -> Decimal | None:
    """Where the margin backing the legs is exhausted: the FAQ formula with MMR = 0 and cum = 0.

    The maintenance margin of other cross positions does not protect anything at bankruptcy,
    so TMM1 is dropped too.
    """
    bare = LiquidationInputs(
        legs=inputs.legs,
        mark_price=inputs.mark_price,
        wallet_balance=inputs.wallet_balance,
        other_maintenance_margin=ZERO,
        other_unrealized_pnl=inputs.other_unrealized_pnl,
    )
    return _solve_with_brackets(bare, zero_maintenance=True)
