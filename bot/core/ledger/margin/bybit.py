"""Bybit USDT perpetual margin formulas: the Unified Trading Account and the classic account.

Sources:
- Isolated liquidation price: Bybit help "Liquidation Price (USDT Contract)"
  (bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract):
  IM = size·EP/leverage; MM = size·EP·MMR − mmDeduction;
  long LP = EP − (IM − MM)/size − ExtraMargin/size;
  short LP = EP + (IM − MM)/size + ExtraMargin/size.
  Worked example there: long 1 BTC at 20,000, 50x, MMR 0.5 % → LP 19,700 (tests/core/test_bybit.py).
  The position margin we keep is IM + ExtraMargin, so LP = EP − side·(margin − MM)/size.
- Unified Trading Account: Bybit help "Liquidation Price Calculation under Isolated Mode
  (Unified Trading Account)" (bybit.com/en/help-center/article/Liquidation-Price-Calculation-
  under-Isolated-Mode-Unified-Trading-Account, version of 2026-05-27) defines
  IM = position value / leverage + estimated fee to close, MM = position value × MMR −
  mmDeduction + estimated fee to close, with the same LP arrangement; Bybit's "Order Cost"
  pages give the fee to close = size × bankruptcy price × taker fee rate, the bankruptcy price
  of a long EP × (1 − 1/leverage), of a short EP × (1 + 1/leverage). Checked to the last digit
  against real UTA answers (`positionIM`, `positionMM` of ETHUSDT and XRPUSDT in
  shared/data/ccxt/bybit-position-answers.json; tests/core/test_bybit_unified.py). Since the
  position margin of a new isolated position is that IM, the fee cancels in IM − MM: a fresh
  isolated position has the classic liquidation price, and loses the fee with its margin.
- Maintenance margin is evaluated at the entry value (size × entry price), as in the articles
  and as Bybit reports `positionMM` (the ETHUSDT answer: 536.925 × 0.5 % + 0.2899395).
- Cross: liquidation when the account's maintenance margin reaches its margin balance
  (UTA `accountMMRate` = totalMaintenanceMargin / totalMarginBalance ≥ 100 %). Bybit publishes no
  closed form per symbol; we solve equity(P) = maintenance margin, which is linear in P because
  Bybit's maintenance margin does not depend on the mark price.
- Bankruptcy price (where the margin left after the fee to close is zero) is our derivation,
  not a published formula: for a fresh isolated position it is the fee's own EP × (1 ∓ 1/L).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.ledger.margin.common import Leg, LiquidationInputs, linear_liquidation_price
from bot.core.values import ONE, ZERO, div, money


@dataclass(frozen=True, slots=True)
class BybitFormulas:
    """One account type's formulas; `reserves_close_fee`: the fee to close is in IM and MM."""

    reserves_close_fee: bool
    # "Liquidation Process (USDT Contract)": from the second risk limit up, one tier a step.
    partial_steps: tuple[int, int] | None = (1, 1)

    @property
    def includes_close_fee(self) -> bool:
        return self.reserves_close_fee

    def tier_basis(self, leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG002
        """Risk limits are chosen by the position value at entry: size × this price."""
        return leg.entry_price

    def mark_rate(self, leg: Leg) -> None:  # noqa: ARG002
        """Risk limits follow the value at entry, which the mark does not move; the bands keep
        bounding it from the table, as they always have."""
        return

    def close_fee(self, leg: Leg, mark_price: Decimal) -> Decimal:  # noqa: ARG002
        """The estimated fee to close at the bankruptcy price implied by the leverage."""
        if not self.reserves_close_fee:
            return ZERO
        bankruptcy = leg.entry_price * (ONE - div(ONE, leg.leverage) * leg.side.sign)
        # Booked like every amount, to 8 decimals (Bybit reports positionIM/MM so).
        return money(leg.qty * bankruptcy * leg.taker_fee_rate)

    def maintenance_margin(self, leg: Leg, mark_price: Decimal) -> Decimal:
        """MM = position value × MMR − mmDeduction (+ the fee to close on a Unified account),
        the tier chosen by the position value at entry."""
        value = leg.tiers.maintenance_margin(leg.qty * leg.entry_price)
        return value + self.close_fee(leg, mark_price)

    def initial_margin(self, leg: Leg, mark_price: Decimal, leverage: Decimal) -> Decimal:
        return div(leg.qty * leg.entry_price, leverage) + self.close_fee(leg, mark_price)

    def _solve(self, inputs: LiquidationInputs, with_maintenance: bool) -> Decimal | None:
        """WB + UPNL1 + Σ side·qty·(P − EP) = TMM1 + Σ MM, solved for P; at bankruptcy only
        the fees to close are still owed."""
        net_qty = ZERO
        numerator = -inputs.wallet_balance - inputs.other_unrealized_pnl
        if with_maintenance:
            numerator += inputs.other_maintenance_margin
        for leg in inputs.legs:
            if with_maintenance:
                numerator += self.maintenance_margin(leg, inputs.mark_price)
            else:
                numerator += self.close_fee(leg, inputs.mark_price)
            numerator += leg.signed_qty * leg.entry_price
            net_qty += leg.signed_qty
        return linear_liquidation_price(numerator, net_qty, liquidated_above=net_qty < ZERO)

    def liquidation_price(self, inputs: LiquidationInputs) -> Decimal | None:
        return self._solve(inputs, with_maintenance=True)

    def bankruptcy_price(self, inputs: LiquidationInputs) -> Decimal | None:
        return self._solve(inputs, with_maintenance=False)


UNIFIED = BybitFormulas(reserves_close_fee=True)
CLASSIC = BybitFormulas(reserves_close_fee=False)
