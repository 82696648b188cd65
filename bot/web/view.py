"""The accounts and positions as the page shows them: figures rounded for reading (as
`marginbot status` rounds them) and, for the chart, the liquidation prices as numbers.

Distance to liquidation is signed from the position's side: how far the price may still move
against it, as a fraction of that price. It is given by the mark (what the exchange
liquidates on) and by the last price (what a trader watching trades sees); when the two
disagree near liquidation, the page shows it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.core.kernel import Kernel
from bot.core.ledger.figures import PositionFigures
from bot.core.prices import SymbolPrices
from bot.core.values import Side
from bot.display import money, percent, price


def distance(side: Side, price: Decimal | None, liquidation: Decimal | None) -> Decimal | None:
    """How far `price` may move against the position before reaching `liquidation` (a
    fraction of `price`; negative once past it)."""
    if price is None or liquidation is None or price <= 0:
        return None
    room = price - liquidation if side is Side.LONG else liquidation - price
    return room / price


def position_view(
    account: str, figures: PositionFigures, prices: SymbolPrices | None, venue: str
) -> dict[str, Any]:
    last = prices.last if prices is not None else None
    liquidation = figures.liquidation_price
    by_mark = distance(figures.side, figures.mark_price, liquidation)
    by_last = distance(figures.side, last, liquidation)
    return {
        "account": account,
        "key": f"{venue}:{figures.symbol}",
        "symbol": figures.symbol,
        "side": figures.side.value,
        "size": f"{figures.qty.normalize():f}",
        "margin_mode": figures.margin_mode.value,
        "leverage": f"{figures.leverage.normalize():f}",
        "entry": price(figures.entry_price),
        "mark": price(figures.mark_price),
        "last": price(last),
        "liquidation": price(liquidation),
        "liquidation_price": float(liquidation) if liquidation is not None else None,
        "entry_price": float(figures.entry_price),
        "distance_by_mark": percent(by_mark),
        "distance_by_last": percent(by_last),
        "distance_by_mark_value": float(by_mark) if by_mark is not None else None,
        "distance_by_last_value": float(by_last) if by_last is not None else None,
        "margin_ratio": percent(figures.margin_ratio),
        "unrealized_pnl": money(figures.unrealized_pnl),
    }


def accounts_view(kernel: Kernel) -> list[dict[str, Any]]:
    rows = []
    for name in kernel.accounts():
        account = kernel.account(name)
        venue = str(account.venue)
        figures = kernel.figures(name)
        rows.append(
            {
                "name": name,
                "venue": venue,
                "margin_mode": account.default_settings.margin_mode.value,
                "wallet": money(figures.wallet_balance),
                "equity": money(figures.margin_balance),
                "margin_ratio": percent(figures.margin_ratio),
                "available": money(figures.available_balance),
                "positions": [
                    position_view(name, p, kernel.prices(venue, p.symbol), venue)
                    for p in figures.positions
                ],
            }
        )
    return rows


def prices_view(kernel: Kernel) -> dict[str, dict[str, str]]:
    return {
        f"{venue}:{symbol}": {
            "mark": money(p.mark),
            "last": money(p.last),
            "divergence": percent(p.divergence()),
        }
        for (venue, symbol), p in kernel.all_prices().items()
    }
