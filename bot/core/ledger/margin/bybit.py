"""Bybit USDT perpetual margin formulas.

Sources:
- Isolated liquidation price: Bybit help "Liquidation Price (USDT Contract)"
  (bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract):
  IM = size·EP/leverage; MM = size·EP·MMR − mmDeduction;
  long LP = EP − (IM − MM)/size − ExtraMargin/size;
  short LP = EP + (IM − MM)/size + ExtraMargin/size.
  Worked example there: long 1 BTC at 20,000, 50x, MMR 0.5 % → LP 19,700 (tests/core/test_bybit.py).
  The position margin we keep is IM + ExtraMargin, so LP = EP − side·(margin − MM)/size.
- Maintenance margin is evaluated at the entry value (size × entry price), as in the article and
  as Bybit reports `positionMM` (the real LTCUSDT position in
  shared/data/ccxt/bybit.linear-excerpt.json: positionMM 0.81072399 = 77.519375 × 1 % plus the
  estimated fee to close at the bankruptcy price).
  We implement the classic article's formula, without the estimated closing fee that the newer
  Unified Trading Account pages add to IM and MM.
- Cross: liquidation when the account's maintenance margin reaches its margin balance
  (UTA `accountMMRate` = totalMaintenanceMargin / totalMarginBalance ≥ 100 %). Bybit publishes no
  closed form per symbol; we solve equity(P) = maintenance margin, which is linear in P because
  Bybit's maintenance margin does not depend on the mark price.
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.ledger.margin.common import Leg, LiquidationInputs, linear_liquidation_price
from bot.core.values import ZERO, div


def maintenance_margin(leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG001
    """MM = position value × MMR − mmDeduction, the tier chosen by the position value at entry."""
    return leg.tiers.maintenance_margin(leg.qty * leg.entry_price)


def initial_margin(leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal:  # noqa: ARG001
    return div(leg.qty * leg.entry_price, leverage)


def _solve(inputs: LiquidationInputs, with_maintenance: bool) -> Decimal | None:
    """WB + UPNL1 + Σ side·qty·(P − EP) = TMM1 + Σ MM, solved for P."""
    net_qty = ZERO
    numerator = -inputs.wallet_balance - inputs.other_unrealized_pnl
    if with_maintenance:
        numerator += inputs.other_maintenance_margin
    for leg in inputs.legs:
        if with_maintenance:
            numerator += maintenance_margin(leg, inputs.mark_price)
        numerator += leg.signed_qty * leg.entry_price
        net_qty += leg.signed_qty
    return linear_liquidation_price(numerator, net_qty, liquidated_above=net_qty < ZERO)


def liquidation_price(inputs: LiquidationInputs) -> Decimal | None:
    return _solve(inputs, with_maintenance=True)


def bankruptcy_price(inputs: LiquidationInputs) -> Decimal | None:
    return _solve(inputs, with_maintenance=False)
