"""One account's orders: placement, triggers, fills, brackets and cancellation (pure).

Fill model (docs/execution.md):
- A market order fills at once at the best ask (buy) or bid (sell) when the book top is known,
  else at the last price, else the mark, moved against the trader by the configured slippage
  and rounded to the tick; taker fee.
- A limit order that crosses the book fills at once at the better of its price and the book
  (taker). Otherwise GTC and post-only orders rest and fill, at their own price with the maker
  fee, when a market trade prints strictly through that price; IOC and FOK are cancelled.
  Liquidity at the top of the book is assumed sufficient.
- A triggered stop or take-profit becomes its market or limit order at the tick that crossed the
  trigger. Reduce-only and close-position orders never exceed the position at fill time.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.core.engine_events import (
    EngineEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from bot.core.events import Fill
from bot.core.ledger.account import Account, Position
from bot.core.orders.model import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PriceSource,
    TimeInForce,
    fires_on_rise,
)
from bot.core.orders.pretrade import check_order, source_price
from bot.core.orders.triggers import LimitBook, TriggerBook
from bot.core.prices import SymbolPrices
from bot.core.speed.bands import ABOVE, BELOW, EVERYWHERE, Band, within
from bot.core.values import ONE, ZERO, Liquidity, OrderSide, PositionSlot, Side
from bot.errors import OrderRejected as Rejected
from bot.errors import RuleViolation

BASIS_POINT = Decimal("0.0001")


class AccountDesk:
    def __init__(self, name: str, account: Account, slippage_bps: Decimal = ZERO) -> None:
        self.name = name
        self.account = account
        self.slippage = slippage_bps * BASIS_POINT
        self.orders: dict[str, Order] = {}
        self.roles: dict[str, str] = {}
        self.triggers: dict[tuple[str, PriceSource], TriggerBook] = {}
        self.limits: dict[str, LimitBook] = {}
        self.trailing: dict[tuple[str, PriceSource], list[str]] = {}
        self._sequence = 0

    # -- placing and cancelling --------------------------------------------------------------

    def place(
        self,
        request: OrderRequest,
        ts: int,
        prices: SymbolPrices,
        role: str = "order",
        bracket: str | None = None,
    ) -> list[EngineEvent]:
        try:
            check_order(self.account, request, prices)
        except Rejected as exc:
            return [
                OrderRejected(ts, self.name, request.symbol, exc.code, str(exc), request.client_id)
            ]
        self._sequence += 1
        order = Order(
            id=f"{self.name}-{self._sequence}",
            account=self.name,
            request=request,
            status=OrderStatus.UNTRIGGERED if request.type.triggered else OrderStatus.OPEN,
            trigger=request.trigger_price,
            fires_on_rise=fires_on_rise(request),
            activated=request.activation_price is None,
            bracket=bracket,
        )
        self.orders[order.id] = order
        self.roles[order.id] = role
        events: list[EngineEvent] = [
            OrderAccepted(
                ts,
                self.name,
                order.id,
                request.symbol,
                request.type,
                order.status,
                order.describe(),
                request.client_id,
            )
        ]
        self.account.order_opened(request.symbol)
        if request.type is OrderType.TRAILING_STOP_MARKET:
            self.trailing.setdefault((request.symbol, request.trigger_source), []).append(order.id)
            self._update_trailing(order, source_price(prices, request.trigger_source))
        elif request.type.triggered:
            assert order.trigger is not None
            self._book(order).add(order.id, order.trigger, order.fires_on_rise, self._sequence)
        else:
            events += self._work(order, ts, prices)
        return events

    def cancel(self, order_id: str, ts: int, reason: str) -> list[EngineEvent]:
        order = self.orders.get(order_id)
        if order is None or order.status in (OrderStatus.FILLED, OrderStatus.CANCELED):
            return []
        self._unbook(order)
        order.status = OrderStatus.CANCELED
        self.account.order_closed(order.symbol)
        return [OrderCanceled(ts, self.name, order.id, order.symbol, reason)]

    def cancel_where(
        self, ts: int, reason: str, symbols: Iterable[str], only_reducing: bool = False
    ) -> list[EngineEvent]:
        wanted = set(symbols)
        events: list[EngineEvent] = []
        for order in list(self.orders.values()):
            if order.symbol not in wanted or order.status not in (
                OrderStatus.OPEN,
                OrderStatus.UNTRIGGERED,
            ):
                continue
            if only_reducing and not (order.request.reduce_only or order.request.close_position):
                continue
            events += self.cancel(order.id, ts, reason)
        return events

    # -- prices ----------------------------------------------------------------------------------

    def on_price(
        self, symbol: str, source: PriceSource, price: Decimal, ts: int, prices: SymbolPrices
    ) -> list[EngineEvent]:
        key = (symbol, source)
        trailing = self.trailing.get(key)
        if trailing:
            for order_id in trailing:
                self._update_trailing(self.orders[order_id], price)
        book = self.triggers.get(key)
        if book is None:
            return []
        events: list[EngineEvent] = []
        for order_id in book.crossed(price):
            order = self.orders[order_id]
            self._drop_trailing(order)
            assert order.trigger is not None
            events.append(
                OrderTriggered(
                    ts,
                    self.name,
                    order.id,
                    symbol,
                    order.request.type,
                    source,
                    order.trigger,
                    price,
                    self.roles[order.id],
                )
            )
            order.status = OrderStatus.OPEN
            events += self._work(order, ts, prices)
        return events

    def quiet_band(self, symbol: str, source: PriceSource, traded: bool = False) -> Band | None:
        """The prices of `source` at which `on_price` (and for a trade, `on_trade`) would
        change nothing: no trigger reached, no trailing stop moved or activated, no limit
        filled. None when a trailing stop has no price to follow yet."""
        band = EVERYWHERE
        book = self.triggers.get((symbol, source))
        if book is not None:
            band = within(band, _open(book.quiet_band()))
        for order_id in self.trailing.get((symbol, source), ()):
            order = self.orders[order_id]
            request = order.request
            if request.callback_rate is None:
                continue  # never moves
            edge = order.extreme if order.activated else request.activation_price
            if edge is None:
                return None
            sell = request.side is OrderSide.SELL
            band = within(band, (BELOW, edge) if sell else (edge, ABOVE))
        limits = self.limits.get(symbol) if traded else None
        if limits is not None:
            band = within(band, _open(limits.quiet_band()))
        return band

    def on_trade(self, symbol: str, price: Decimal, ts: int) -> list[EngineEvent]:
        book = self.limits.get(symbol)
        if book is None or not len(book):
            return []
        events: list[EngineEvent] = []
        for order_id in book.traded_through(price):
            order = self.orders[order_id]
            assert order.request.price is not None
            events += self._fill(order, ts, order.request.price, Liquidity.MAKER)
        return events

    # -- internals -------------------------------------------------------------------------------

    def _book(self, order: Order) -> TriggerBook:
        key = (order.symbol, order.request.trigger_source)
        return self.triggers.setdefault(key, TriggerBook())

    def _unbook(self, order: Order) -> None:
        self._book(order).remove(order.id)
        self._drop_trailing(order)
        book = self.limits.get(order.symbol)
        if book is not None:
            book.remove(order.id)

    def _drop_trailing(self, order: Order) -> None:
        ids = self.trailing.get((order.symbol, order.request.trigger_source))
        if ids is not None and order.id in ids:
            ids.remove(order.id)

    def _update_trailing(self, order: Order, price: Decimal | None) -> None:
        """Binance TRAILING_STOP_MARKET: after activation, the trigger follows the best price by
        the callback rate; it only ever moves in the trader's favour."""
        request = order.request
        if price is None or request.callback_rate is None:
            return
        sell = request.side is OrderSide.SELL
        if not order.activated:
            assert request.activation_price is not None
            reached = (
                price >= request.activation_price if sell else price <= request.activation_price
            )
            if not reached:
                return
            order.activated = True
        better = order.extreme is None or (price > order.extreme if sell else price < order.extreme)
        if not better:
            return
        order.extreme = price
        tick = self.account.instrument(order.symbol).tick_size or Decimal("0.00000001")
        if sell:
            trigger = (price * (ONE - request.callback_rate)).quantize(tick, ROUND_FLOOR)
        else:
            trigger = (price * (ONE + request.callback_rate)).quantize(tick, ROUND_CEILING)
        book = self._book(order)
        book.remove(order.id)
        order.trigger = trigger
        book.add(order.id, trigger, order.fires_on_rise, int(order.id.rsplit("-", 1)[1]))

    def _work(self, order: Order, ts: int, prices: SymbolPrices) -> list[EngineEvent]:
        """An order that is live on the book now: fill it, rest it or cancel it."""
        request = order.request
        if not request.type.becomes_limit and request.type is not OrderType.LIMIT:
            price = self._market_price(order, prices)
            if price is None:
                return self.cancel(order.id, ts, "no market price to fill at")
            return self._fill(order, ts, price, Liquidity.TAKER)
        assert request.price is not None
        buy = request.side is OrderSide.BUY
        best = (prices.ask if buy else prices.bid) or prices.last
        if best is not None and (request.price >= best if buy else request.price <= best):
            if request.time_in_force is TimeInForce.POST_ONLY:
                return self.cancel(order.id, ts, "post-only order would take liquidity")
            price = min(request.price, best) if buy else max(request.price, best)
            return self._fill(order, ts, price, Liquidity.TAKER)
        if request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            return self.cancel(order.id, ts, f"{request.time_in_force}: no immediate match")
        self._sequence += 1
        self.limits.setdefault(order.symbol, LimitBook()).add(
            order.id, request.price, buy, self._sequence
        )
        return []

    def _market_price(self, order: Order, prices: SymbolPrices) -> Decimal | None:
        buy = order.request.side is OrderSide.BUY
        base = (prices.ask if buy else prices.bid) or prices.last or prices.mark
        if base is None:
            return None
        tick = self.account.instrument(order.symbol).tick_size or Decimal("0.00000001")
        if buy:
            return (base * (ONE + self.slippage)).quantize(tick, ROUND_CEILING)
        return (base * (ONE - self.slippage)).quantize(tick, ROUND_FLOOR)

    def _reducible(self, order: Order) -> Position | None:
        request = order.request
        if request.slot is PositionSlot.BOTH:
            position = self.account.position(request.symbol)
            if position is not None and request.side.opens is not position.side:
                return position
            return None
        position = self.account.position(request.symbol, request.slot)
        if position is not None and request.side.opens is not Side(request.slot.value):
            return position
        return None

    def _fill(
        self, order: Order, ts: int, price: Decimal, liquidity: Liquidity
    ) -> list[EngineEvent]:
        request = order.request
        reducing = request.reduce_only or request.close_position
        qty = request.qty
        if reducing:
            position = self._reducible(order)
            if position is None:
                return self.cancel(order.id, ts, "no position left to reduce")
            qty = position.qty if request.close_position or qty is None else min(qty, position.qty)
        assert qty is not None
        fill = Fill(request.symbol, request.side, qty, price, liquidity, request.slot, reducing)
        try:
            if not reducing:
                self.account.check_can_open(fill)
            applied = self.account.apply_fill(fill)
        except RuleViolation as exc:
            return self.cancel(order.id, ts, f"refused at fill: {exc}")
        self._unbook(order)
        order.status = OrderStatus.FILLED
        order.filled_qty = qty
        self.account.order_closed(order.symbol)
        events: list[EngineEvent] = [
            OrderFilled(ts, self.name, order.id, self.roles[order.id], applied)
        ]
        if order.bracket is not None:
            for sibling in list(self.orders.values()):
                if sibling.bracket == order.bracket and sibling.id != order.id:
                    events += self.cancel(
                        sibling.id,
                        ts,
                        f"the other side of the bracket ({self.roles[order.id]}) filled",
                    )
        if applied.position_qty == ZERO:
            events += self._cancel_for_flat(request.symbol, applied.slot, ts)
        return events

    def _cancel_for_flat(self, symbol: str, slot: PositionSlot, ts: int) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        for order in list(self.orders.values()):
            if order.symbol != symbol or order.request.slot is not slot:
                continue
            if order.status not in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED):
                continue
            if order.request.reduce_only or order.request.close_position:
                events += self.cancel(order.id, ts, "position closed")
        return events


def _open(ends: tuple[Decimal | None, Decimal | None]) -> Band:
    return (BELOW if ends[0] is None else ends[0], ABOVE if ends[1] is None else ends[1])
