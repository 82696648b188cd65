"""OKX USDT-margined perpetual swap margin formulas (single-currency margin, "futures mode").

Sources:
- OKX states the rule as margin ratio = (margin balance + unrealized PnL) / (maintenance margin +
  fee to close), liquidation at 100 % (OKX help "Isolated margin mode" and "Tiered maintenance
  margin ratio rules"; the issue of record quotes the same). Maintenance margin = position value
  at the mark × the MMR of the position's tier; the fee to close = position value at the mark ×
  the taker fee rate. Isolated margin balance is the position's margin; cross, the currency's
  cash balance (one settlement currency, USDT, as an `Account` holds).
- Position tiers are set by the position's size in contracts (OKX announcement "OKX to adjust
  position tiers of perpetual swaps", 2023-05-15: "Max. amount (Cont)" per tier), the tier's
  MMR applying to the whole position with no deduction; sizes here are base units (contracts ×
  `ctVal`, `GET /api/v5/public/instruments`), so the tiers are kept in base units too.
- With the tier fixed by the size, equity = maintenance margin + fee is linear in the price:
  isolated long LP = (size·EP − margin) / (size·(1 − MMR − taker)), short
  LP = (size·EP + margin) / (size·(1 + MMR + taker)); the issue's example (0.5 BTC at 60,000,
  3,000 margin, MMR 0.4 %, taker 0.05 %) gives 54,244.09... (tests/core/test_okx.py). Cross and
  long/short mode: every leg of the symbol and the other positions' requirement enter together,
  as in Binance's arrangement.
- Bankruptcy price (equity zero, no fee left to pay) is our derivation; OKX publishes none.
Not confirmed from a stored copy of OKX's own page: that the fee term uses the account's taker
rate at the mark (third-party restatements and the issue's formula say so).
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.ledger.margin.common import Leg, LiquidationInputs, linear_liquidation_price
from bot.core.values import ONE, ZERO, div

reserves_close_fee = False  # OKX's initial margin is the value / leverage; the fee is in MM
includes_close_fee = True
# OKX "forced partial liquidation": from the third tier (index 2) up, two tiers down a step.
partial_steps = (2, 2)


def _rate(leg: Leg) -> Decimal:
    return leg.tiers.tier_for(leg.qty).maint_margin_rate


def tier_basis(leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG001
    """Tiers are chosen by the size itself."""
    return ONE


def mark_rate(leg: Leg) -> Decimal:
    """The requirement is value at the mark × (MMR + taker), the tier fixed by the size."""
    return _rate(leg) + leg.taker_fee_rate


def close_fee(leg: Leg, mark_price: Decimal) -> Decimal:
    return leg.qty * mark_price * leg.taker_fee_rate


def maintenance_margin(leg: Leg, mark_price: Decimal) -> Decimal:
    """The liquidation requirement: value at the mark × (tier MMR + taker fee rate)."""
    return leg.qty * mark_price * (_rate(leg) + leg.taker_fee_rate)


def initial_margin(leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal:
    return div(leg.qty * mark_price, leverage)


def _solve(inputs: LiquidationInputs, with_maintenance: bool) -> Decimal | None:
    """WB − TMM1 + UPNL1 + Σ side·qty·(P − EP) = Σ qty·P·(MMR + taker), solved for P."""
    numerator = inputs.wallet_balance + inputs.other_unrealized_pnl
    if with_maintenance:
        numerator -= inputs.other_maintenance_margin
    denominator = ZERO
    for leg in inputs.legs:
        numerator -= leg.signed_qty * leg.entry_price
        rate = _rate(leg) + leg.taker_fee_rate if with_maintenance else ZERO
        denominator += leg.qty * rate - leg.signed_qty
    return linear_liquidation_price(numerator, denominator, liquidated_above=denominator > ZERO)


def liquidation_price(inputs: LiquidationInputs) -> Decimal | None:
    return _solve(inputs, with_maintenance=True)


def bankruptcy_price(inputs: LiquidationInputs) -> Decimal | None:
    bare = LiquidationInputs(
        legs=inputs.legs,
        mark_price=inputs.mark_price,
        wallet_balance=inputs.wallet_balance,
        other_unrealized_pnl=inputs.other_unrealized_pnl,
    )
    return _solve(bare, with_maintenance=False)
