"""Instrument specifications and maintenance-margin tiers.

Binance USDⓈ-M calls the tiers *leverage brackets* (notional floor/cap, maintenance margin ratio,
maintenance amount `cum`, `initialLeverage`); Bybit calls them *risk limits* (risk limit value,
maintenance margin rate, `mmDeduction`, max leverage). Both have the same shape: for a notional N
in a tier, maintenance margin = N × rate − amount. We model both with one `MaintenanceTier`.
OKX's *position tiers* are keyed on the position's size in contracts (converted to base units
here, `Instrument.tiers_by_quantity`); the rate applies to the whole position, with no amount.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from bot.core.values import ZERO, ContractType, Venue


@dataclass(frozen=True, slots=True)
class MaintenanceTier:
    """One bracket: notionals in [floor, cap) use this rate and amount."""

    notional_floor: Decimal
    notional_cap: Decimal | None  # None: no upper bound
    maint_margin_rate: Decimal
    maint_amount: Decimal  # Binance `cum`, Bybit `mmDeduction`
    max_leverage: Decimal | None  # None: not known for this tier

    def maintenance_margin(self, notional: Decimal) -> Decimal:
        return notional * self.maint_margin_rate - self.maint_amount


def derive_maint_amounts(
    floors: Sequence[Decimal], rates: Sequence[Decimal]
) -> tuple[Decimal, ...]:
    """Maintenance amounts that make maintenance margin continuous across tier edges.

    Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts", maintenance
    amount formula: cum_n = floor_n × (MMR_n − MMR_{n−1}) + cum_{n−1}, cum_1 = 0.
    """
    amounts: list[Decimal] = []
    for index, (floor, rate) in enumerate(zip(floors, rates, strict=True)):
        if index == 0:
            amounts.append(ZERO)
        else:
            amounts.append(floor * (rate - rates[index - 1]) + amounts[-1])
    return tuple(amounts)


@dataclass(frozen=True, slots=True)
class TierTable:
    """Tiers ordered by notional floor; the first floor is 0."""

    tiers: tuple[MaintenanceTier, ...]
    _floors: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)
    # The maintenance margin is continuous and its rate rising across tier edges (Binance
    # derives `cum` so that it is): then the highest rate bounds how fast it can grow.
    continuous: bool = field(init=False, repr=False, compare=False)

    def __getstate__(self) -> tuple[tuple[MaintenanceTier, ...]]:
        return (self.tiers,)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        """From this state or an older one (its first item is always the tiers)."""
        object.__setattr__(self, "tiers", state[0])
        self._derive()

    def _derive(self) -> None:
        ordered = self.tiers
        object.__setattr__(self, "_floors", tuple(t.notional_floor for t in ordered))
        object.__setattr__(
            self,
            "continuous",
            all(
                low.maint_margin_rate <= high.maint_margin_rate
                and low.maintenance_margin(high.notional_floor)
                == high.maintenance_margin(high.notional_floor)
                for low, high in pairwise(ordered)
            ),
        )

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a tier table needs at least one tier")
        ordered = tuple(sorted(self.tiers, key=lambda tier: tier.notional_floor))
        if ordered[0].notional_floor != ZERO:
            raise ValueError("the first tier must start at notional 0")
        for tier in ordered:
            if tier.maint_margin_rate < ZERO or tier.maint_margin_rate >= 1:
                raise ValueError(
                    f"maintenance margin rate {tier.maint_margin_rate} must be in [0, 1)"
                )
        object.__setattr__(self, "tiers", ordered)
        self._derive()

    @classmethod
    def single(cls, rate: Decimal, amount: Decimal = ZERO) -> TierTable:
        """A table of one tier covering every notional."""
        return cls((MaintenanceTier(ZERO, None, rate, amount, None),))

    @classmethod
    def from_floors_and_rates(
        cls,
        floors: Sequence[Decimal],
        rates: Sequence[Decimal],
        max_leverages: Iterable[Decimal | None] | None = None,
    ) -> TierTable:
        """Build tiers from floors and rates alone, deriving caps and maintenance amounts."""
        amounts = derive_maint_amounts(floors, rates)
        caps: list[Decimal | None] = [*floors[1:], None]
        leverages = list(max_leverages) if max_leverages is not None else [None] * len(floors)
        return cls(
            tuple(
                MaintenanceTier(floor, cap, rate, amount, lev)
                for floor, cap, rate, amount, lev in zip(
                    floors, caps, rates, amounts, leverages, strict=True
                )
            )
        )

    def tier_index(self, notional: Decimal) -> int:
        """Index of the tier whose [floor, cap) holds the notional (the last tier beyond it)."""
        return max(bisect_right(self._floors, abs(notional)) - 1, 0)

    def tier_for(self, notional: Decimal) -> MaintenanceTier:
        return self.tiers[self.tier_index(notional)]

    def maintenance_margin(self, notional: Decimal) -> Decimal:
        return self.tier_for(notional).maintenance_margin(abs(notional))

    def max_notional_for_leverage(self, leverage: Decimal) -> Decimal | None:
        """Largest notional a position may have at this leverage; None when unbounded or unknown.

        Binance: `GET /fapi/v1/leverageBracket` — a bracket allows leverage up to its
        `initialLeverage`, so the limit at leverage L is the cap of the last bracket allowing L.
        """
        if all(tier.max_leverage is None for tier in self.tiers):
            return None
        allowed = [
            tier
            for tier in self.tiers
            if tier.max_leverage is not None and tier.max_leverage >= leverage
        ]
        if not allowed:
            return ZERO
        return allowed[-1].notional_cap

    @property
    def max_leverage(self) -> Decimal | None:
        known = [tier.max_leverage for tier in self.tiers if tier.max_leverage is not None]
        return max(known) if known else None


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules and margin tiers of one contract on one venue."""

    venue: Venue
    symbol: str  # the venue's own id, e.g. "BTCUSDT"
    base: str
    quote: str
    settle: str
    tiers: TierTable
    # Trading rules; None where unknown (an instrument built only for margin arithmetic).
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    min_qty: Decimal | None = None
    min_notional: Decimal | None = None
    max_leverage: Decimal | None = None
    liquidation_fee_rate: Decimal = ZERO
    contract_type: ContractType = ContractType.LINEAR_PERPETUAL
    # OKX counts sizes in contracts of `contract_value` base units and sets its position tiers
    # by size, not by value: then the tiers' floors and caps are base quantities.
    contract_value: Decimal | None = None
    tiers_by_quantity: bool = False

    def tier_size(self, qty: Decimal, at_price: Decimal) -> Decimal:
        """What the tiers are keyed on for a position of `qty` at `at_price`."""
        return abs(qty) if self.tiers_by_quantity else abs(qty) * at_price

    @property
    def leverage_limit(self) -> Decimal | None:
        """The highest leverage any position on this instrument may use, when known."""
        candidates = [x for x in (self.max_leverage, self.tiers.max_leverage) if x is not None]
        return min(candidates) if candidates else None
