"""What the alert rules read of a position at every price tick, computed as `account_figures`
computes it, without the rest of the figures.

The rules run on every mark and every trade, for every account holding the symbol; the full
figures (bankruptcy prices, initial margins, available balance, every other position) cost far
more than the two numbers the rules need: the margin ratio and the liquidation price. The ratio
is recomputed at each tick (it moves with the mark). The liquidation price is solved only when a
rule reads it (the divergence rule reads it only when mark and last diverge). It is a function
of the position's ledger state and, for Binance, of the bracket its solver starts from (the
bracket of the notional at the mark); it is cached under exactly those inputs, so a cached value
is the value `liquidation_price` would return. A cross position with cross positions on other
symbols depends on their marks too and is always recomputed.
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.ledger.account import Account, Position
from bot.core.ledger.figures import ratio
from bot.core.ledger.liquidation import liquidation_price
from bot.core.values import ZERO, MarginMode, PositionSlot, Side

CACHE_LIMIT = 10_000


_UNSOLVED = object()


class RiskView:
    """One position as the rules see it; the liquidation price is solved when first read."""

    __slots__ = ("_account", "_lp", "_position", "_views", "margin_ratio", "mark_price")

    def __init__(
        self,
        views: RiskViews,
        account: Account,
        position: Position,
        mark_price: Decimal,
        margin_ratio: Decimal | None,
    ) -> None:
        self._views = views
        self._account = account
        self._position = position
        self.mark_price = mark_price
        self.margin_ratio = margin_ratio
        self._lp: object = _UNSOLVED

    @property
    def symbol(self) -> str:
        return self._position.symbol

    @property
    def slot(self) -> PositionSlot:
        return self._position.slot

    @property
    def side(self) -> Side:
        return self._position.side

    @property
    def margin_mode(self) -> MarginMode:
        return self._position.margin_mode

    @property
    def liquidation_price(self) -> Decimal | None:
        if self._lp is _UNSOLVED:
            self._lp = self._views.liquidation_price(self._account, self._position, self.mark_price)
        return self._lp  # type: ignore[return-value]


class RiskViews:
    def __init__(self) -> None:
        self._liquidation_prices: dict[tuple[object, ...], Decimal | None] = {}
        self.hits = 0
        self.misses = 0

    def of(self, account: Account, symbol: str) -> tuple[list[RiskView], Decimal | None]:
        """The views of the account's positions on `symbol`, and the cross margin ratio."""
        if account.has_cross_positions():
            cross_mm, cross_upnl = account.cross_totals()
            cross_ratio = ratio(cross_mm, account.wallet_balance + cross_upnl)
        else:
            cross_ratio = ZERO
        views = []
        for position in account.positions_of(symbol):
            mark = account.mark(symbol, position.entry_price)
            if position.margin_mode is MarginMode.ISOLATED:
                balance = position.isolated_margin + position.unrealized_pnl(mark)
                margin_ratio = ratio(account.maintenance_margin(position), balance)
            else:
                margin_ratio = cross_ratio
            views.append(RiskView(self, account, position, mark, margin_ratio))
        return views, cross_ratio

    def liquidation_price(
        self, account: Account, position: Position, mark: Decimal
    ) -> Decimal | None:
        tiers = account.instrument(position.symbol).tiers
        group: tuple[Position, ...]
        if position.margin_mode is MarginMode.ISOLATED:
            group = (position,)
            funds = position.isolated_margin
        else:
            if account.has_cross_beyond(position.symbol):
                return liquidation_price(account, position)  # moves with the other marks
            group = tuple(
                p
                for p in account.positions_of(position.symbol)
                if p.margin_mode is MarginMode.CROSS
            )
            funds = account.wallet_balance
        key = (
            id(account),
            id(tiers),
            position.symbol,
            position.slot,
            position.margin_mode,
            funds,
            tuple((p.slot, p.side, p.qty, p.entry_price, p.leverage) for p in group),
            tuple(tiers.tier_index(p.qty * mark) for p in group),  # where the solver starts
        )
        cached = self._liquidation_prices.get(key, self)
        if cached is not self:
            self.hits += 1
            return cached  # type: ignore[return-value]
        self.misses += 1
        if len(self._liquidation_prices) >= CACHE_LIMIT:
            self._liquidation_prices.clear()
        value = self._liquidation_prices[key] = liquidation_price(account, position)
        return value
