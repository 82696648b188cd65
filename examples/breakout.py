"""A worked strategy for marginbot: buy a breakout, protect it with a bracket.

When the last price rises above the highest of the previous `lookback` trades and the account
has no position, buy `qty` at market; once filled, attach a stop-loss `stop_pct` below the
entry, triggered on the MARK price (what liquidates), and a take-profit `take_pct` above it,
triggered on the LAST price (what fills). Run it with:

    [[strategies]]
    file = "examples/breakout.py"
    class = "Breakout"
    account = "isolated"
    params = { lookback = 50, qty = "0.01", stop_pct = "0.01", take_pct = "0.02" }
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from bot.control.codec import CommandJson, PlaceOrderJson, SetTpSlJson
from bot.core.engine_events import OrderFilled
from bot.core.market import Trade
from bot.core.orders.model import OrderType
from bot.strategy import MarketView


class Breakout:
    def __init__(
        self,
        account: str,
        symbol: str = "BTCUSDT",
        lookback: int = 50,
        qty: str = "0.01",
        stop_pct: str = "0.01",
        take_pct: str = "0.02",
        tick: str = "0.1",
    ) -> None:
        self.account = account
        self.symbol = symbol
        self.recent: deque[Decimal] = deque(maxlen=lookback)
        self.qty = Decimal(qty)
        self.stop_pct = Decimal(stop_pct)
        self.take_pct = Decimal(take_pct)
        self.tick = Decimal(tick)
        self.entry_sent = False

    def on_event(self, event: object, view: MarketView) -> list[CommandJson]:
        if isinstance(event, OrderFilled) and event.account == self.account:
            return self._protect(event)
        if not isinstance(event, Trade) or event.symbol != self.symbol:
            return []
        breakout = len(self.recent) == self.recent.maxlen and event.price > max(self.recent)
        self.recent.append(event.price)
        if breakout and not self.entry_sent and view.position(self.symbol) is None:
            self.entry_sent = True
            return [
                PlaceOrderJson(
                    account=self.account,
                    symbol=self.symbol,
                    side="buy",
                    type=OrderType.MARKET,
                    qty=self.qty,
                    client_id="breakout-entry",
                )
            ]
        return []

    def _protect(self, event: OrderFilled) -> list[CommandJson]:
        fill = event.fill
        if event.role != "order" or fill.position_qty == 0 or fill.entry_price is None:
            if fill.position_qty == 0:
                self.entry_sent = False  # flat again: ready for the next breakout
            return []
        entry = fill.entry_price
        stop = (entry * (1 - self.stop_pct)).quantize(self.tick)
        take = (entry * (1 + self.take_pct)).quantize(self.tick)
        return [
            SetTpSlJson(
                account=self.account,
                symbol=self.symbol,
                stop_loss=stop,
                stop_loss_source="mark",
                take_profit=take,
                take_profit_source="last",
            )
        ]
