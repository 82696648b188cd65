"""Pre-trade checks, as the exchanges make them. Each refusal has a code and a sentence that
says what to do. Codes: unknown_symbol, rules_unknown, position_side, margin_mode_mismatch,
bad_quantity, lot_size, min_qty, bad_price, tick_size, bad_trigger, callback_rate,
time_in_force, no_market_price, would_trigger_immediately, reduce_only_would_increase,
post_only_would_take, min_notional, leverage_tier_exceeded, insufficient_margin.
"""

from __future__ import annotations

from decimal import Decimal

from bot.core.events import Fill
from bot.core.instruments import Instrument
from bot.core.ledger.account import Account
from bot.core.orders.model import (
    MAX_CALLBACK,
    MIN_CALLBACK,
    OrderRequest,
    OrderType,
    PriceSource,
    TimeInForce,
    fires_on_rise,
)
from bot.core.prices import SymbolPrices
from bot.core.values import ZERO, OrderSide, PositionMode, PositionSlot, Side, fmt
from bot.errors import (
    InsufficientBalance,
    LeverageRefused,
    OrderRejected,
    PositionError,
    UnknownInstrument,
)


def source_price(prices: SymbolPrices, source: PriceSource) -> Decimal | None:
    if source is PriceSource.MARK:
        return prices.mark
    if source is PriceSource.INDEX:
        return prices.index
    return prices.last


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step == ZERO or value % step == ZERO


def _instrument(account: Account, request: OrderRequest) -> Instrument:
    try:
        instrument = account.instrument(request.symbol)
    except UnknownInstrument as exc:
        raise OrderRejected("unknown_symbol", str(exc)) from None
    if instrument.tick_size is None or instrument.lot_size is None:
        raise OrderRejected(
            "rules_unknown",
            f"{request.symbol}: tick and lot sizes are unknown; load the venue's markets first",
        )
    return instrument


def _check_shape(account: Account, request: OrderRequest, instrument: Instrument) -> None:
    hedge = account.position_mode is PositionMode.HEDGE
    if hedge == (request.slot is PositionSlot.BOTH):
        expected = "LONG or SHORT" if hedge else "no position side"
        raise OrderRejected(
            "position_side", f"the account is in {account.position_mode} mode: give {expected}"
        )
    mode = account.settings(request.symbol).margin_mode
    if request.margin_mode is not None and request.margin_mode is not mode:
        raise OrderRejected(
            "margin_mode_mismatch",
            f"{request.symbol} is in {mode} margin, the order expects {request.margin_mode}; "
            f"change the margin mode first (only possible with no position or order open)",
        )
    if request.close_position:
        if request.qty is not None or request.type not in (
            OrderType.STOP_MARKET,
            OrderType.TAKE_PROFIT_MARKET,
        ):
            raise OrderRejected(
                "bad_quantity",
                "close-position is for stop-market and "
                "take-profit-market orders without a quantity",
            )
    elif request.qty is None or request.qty <= ZERO:
        raise OrderRejected("bad_quantity", "give a quantity greater than zero")
    else:
        assert instrument.lot_size is not None
        if not _multiple(request.qty, instrument.lot_size):
            raise OrderRejected(
                "lot_size",
                f"quantity {fmt(request.qty)} is not a multiple of "
                f"the lot size {fmt(instrument.lot_size)}",
            )
        if instrument.min_qty is not None and request.qty < instrument.min_qty:
            raise OrderRejected(
                "min_qty",
                f"quantity {fmt(request.qty)} is below the minimum {fmt(instrument.min_qty)}",
            )


def _check_prices(request: OrderRequest, instrument: Instrument) -> None:
    tick = instrument.tick_size
    assert tick is not None
    needs_price = request.type in (
        OrderType.LIMIT,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
    )
    for name, value, needed in (
        ("price", request.price, needs_price),
        (
            "trigger price",
            request.trigger_price,
            request.type.triggered and request.type is not OrderType.TRAILING_STOP_MARKET,
        ),
        ("activation price", request.activation_price, False),
    ):
        if value is None:
            if needed:
                raise OrderRejected("bad_price", f"a {request.type} order needs a {name}")
            continue
        if value <= ZERO:
            raise OrderRejected("bad_price", f"the {name} must be greater than zero")
        if not _multiple(value, tick):
            raise OrderRejected(
                "tick_size", f"{name} {fmt(value)} is not a multiple of the tick size {fmt(tick)}"
            )
    if request.type is OrderType.TRAILING_STOP_MARKET:
        rate = request.callback_rate
        if rate is None or not MIN_CALLBACK <= rate <= MAX_CALLBACK:
            raise OrderRejected(
                "callback_rate",
                "a trailing stop needs a callback rate from "
                f"{fmt(MIN_CALLBACK)} to {fmt(MAX_CALLBACK)} (0.1 % to 10 %)",
            )
    if request.time_in_force is not TimeInForce.GTC and request.type is not OrderType.LIMIT:
        raise OrderRejected("time_in_force", f"{request.time_in_force} applies to limit orders")


def _position_side(account: Account, request: OrderRequest) -> Side | None:
    if request.slot is PositionSlot.BOTH:
        position = account.position(request.symbol)
        return position.side if position is not None else None
    position = account.position(request.symbol, request.slot)
    return position.side if position is not None else None


def _reduces(account: Account, request: OrderRequest) -> bool:
    side = _position_side(account, request)
    if request.slot is not PositionSlot.BOTH:
        slot_side = Side(request.slot.value)
        return side is not None and request.side.opens is not slot_side
    return side is not None and request.side.opens is not side


def check_order(account: Account, request: OrderRequest, prices: SymbolPrices) -> None:
    """Refuse the order with `OrderRejected` if the exchange would."""
    instrument = _instrument(account, request)
    _check_shape(account, request, instrument)
    _check_prices(request, instrument)
    if (request.reduce_only or request.close_position) and not _reduces(account, request):
        raise OrderRejected(
            "reduce_only_would_increase",
            f"a reduce-only {request.side} on {request.symbol} would open or increase a "
            "position; drop reduce-only or trade the other side",
        )
    reference = _reference_price(request, prices)
    if request.type.triggered and request.trigger_price is not None:
        current = source_price(prices, request.trigger_source)
        assert current is not None
        rising = fires_on_rise(request)
        if (rising and current >= request.trigger_price) or (
            not rising and current <= request.trigger_price
        ):
            raise OrderRejected(
                "would_trigger_immediately",
                f"the {request.trigger_source} price {fmt(current)} is already beyond the "
                f"trigger {fmt(request.trigger_price)}; place a market or limit order instead",
            )
    if request.time_in_force is TimeInForce.POST_ONLY and _would_take(request, prices):
        raise OrderRejected(
            "post_only_would_take",
            f"post-only {request.side} at {fmt(request.price or ZERO)} would take "
            "liquidity now; lower a buy or raise a sell",
        )
    if request.reduce_only or request.close_position or request.qty is None:
        return
    notional = request.qty * reference
    if instrument.min_notional is not None and notional < instrument.min_notional:
        raise OrderRejected(
            "min_notional",
            f"order value {fmt(notional)} is below the minimum "
            f"{fmt(instrument.min_notional)}; raise the quantity",
        )
    try:
        account.check_can_open(
            Fill(request.symbol, request.side, request.qty, reference, slot=request.slot)
        )
    except LeverageRefused as exc:
        raise OrderRejected("leverage_tier_exceeded", str(exc)) from None
    except InsufficientBalance as exc:
        raise OrderRejected("insufficient_margin", str(exc)) from None
    except PositionError as exc:
        raise OrderRejected("position_side", str(exc)) from None


def _reference_price(request: OrderRequest, prices: SymbolPrices) -> Decimal:
    """The price an order's value is judged at: its own price, else the market's."""
    for candidate in (request.price, request.trigger_price, request.activation_price):
        if candidate is not None:
            if request.type.triggered:
                _require(source_price(prices, request.trigger_source), request)
            return candidate
    market = prices.ask if request.side is OrderSide.BUY else prices.bid
    return _require(market or prices.last or prices.mark, request)


def _require(value: Decimal | None, request: OrderRequest) -> Decimal:
    if value is None:
        source = request.trigger_source if request.type.triggered else "last"
        raise OrderRejected(
            "no_market_price",
            f"no {source} price for {request.symbol} yet; wait for the feed to deliver one",
        )
    return value


def _would_take(request: OrderRequest, prices: SymbolPrices) -> bool:
    limit = request.price
    if limit is None:
        return False
    if request.side is OrderSide.BUY:
        best = prices.ask if prices.ask is not None else prices.last
        return best is not None and limit >= best
    best = prices.bid if prices.bid is not None else prices.last
    return best is not None and limit <= best
