"""`marginbot margin`: an account as JSON in, its margin figures as JSON out.

The input schema is documented in docs/margin-calculator.md. Every problem is reported as an
`InputError` naming the field and what is expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from bot.core.instruments import Instrument, MaintenanceTier, TierTable
from bot.core.ledger.account import DEFAULT_FEES, Account, FeeSchedule, Position
from bot.core.ledger.figures import AccountFigures, PositionFigures, account_figures
from bot.core.ledger.margin import Leg, default_account_type, formulas_for
from bot.core.values import (
    ZERO,
    AccountType,
    MarginMode,
    PositionMode,
    PositionSlot,
    Side,
    Venue,
    div,
    fmt,
    parse_decimal,
)
from bot.errors import InputError, MarginbotError
from bot.markets.snapshot import bundled_for

_E = TypeVar("_E", Venue, AccountType, PositionMode, Side, MarginMode)

_ACCOUNT_KEYS = {"venue", "account_type", "position_mode", "wallet_balance", "positions"}
_POSITION_KEYS = {
    "symbol",
    "side",
    "qty",
    "entry_price",
    "leverage",
    "margin_mode",
    "isolated_margin",
    "mark_price",
    "maint_margin_rate",
    "maint_amount",
    "tiers",
    "taker_fee_rate",
}
_TIER_KEYS = {"notional_floor", "notional_cap", "maint_margin_rate", "maint_amount", "max_leverage"}


def parse_json(text: str) -> object:
    """Parse JSON keeping every number exact (as Decimal)."""
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InputError(
            "input is nested too deeply to be an account (lists in lists ...)"
        ) from None


def _object(raw: object, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InputError(
            f"{where}: unknown field {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}"
        )
    return raw


def _number(
    obj: Mapping[str, Any],
    key: str,
    where: str,
    *,
    positive: bool = True,
    allow_zero: bool = False,
    default: Decimal | None = None,
) -> Decimal:
    if key not in obj or obj[key] is None:
        if default is not None:
            return default
        raise InputError(f"{where}.{key}: missing; expected a decimal number")
    try:
        value = parse_decimal(obj[key], f"{where}.{key}")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if positive and (value < ZERO or (value == ZERO and not allow_zero)):
        expected = "zero or more" if allow_zero else "greater than zero"
        raise InputError(f"{where}.{key}: {fmt(value)} is not allowed; expected {expected}")
    return value


def _choice(
    obj: Mapping[str, Any], key: str, where: str, enum: type[_E], default: _E | None = None
) -> _E:
    if key not in obj:
        if default is not None:
            return default
        raise InputError(f"{where}.{key}: missing; expected one of {_names(enum)}")
    try:
        return enum(obj[key])
    except ValueError:
        raise InputError(
            f"{where}.{key}: {obj[key]!r} is not valid; expected one of {_names(enum)}"
        ) from None


def _names(enum: type[_E]) -> str:
    return ", ".join(str(member.value) for member in enum)


def _tier_table(raw: object, where: str) -> TierTable:
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: expected a non-empty list of tiers")
    tiers = []
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        tier = _object(item, here, _TIER_KEYS)
        cap = tier.get("notional_cap")
        lev = tier.get("max_leverage")
        tiers.append(
            MaintenanceTier(
                notional_floor=_number(tier, "notional_floor", here, allow_zero=True),
                notional_cap=None if cap is None else _number(tier, "notional_cap", here),
                maint_margin_rate=_number(tier, "maint_margin_rate", here, allow_zero=True),
                maint_amount=_number(tier, "maint_amount", here, allow_zero=True, default=ZERO),
                max_leverage=None if lev is None else _number(tier, "max_leverage", here),
            )
        )
    _check_tiers(tiers, where)
    try:
        return TierTable(tuple(tiers))
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _check_tiers(tiers: list[MaintenanceTier], where: str) -> None:
    """A table as the exchanges publish one: floors rising from 0, each tier's cap the next
    tier's floor (no gap, no overlap), and a maintenance margin of zero or more at every floor
    (Binance's `cum` and Bybit's `mmDeduction` keep it continuous)."""
    for index in range(1, len(tiers)):
        floor, previous = tiers[index].notional_floor, tiers[index - 1].notional_floor
        if floor <= previous:
            raise InputError(
                f"{where}[{index}].notional_floor: {fmt(floor)} is not above the previous "
                f"tier's {fmt(previous)}; give the tiers in order, once each"
            )
    for index, tier in enumerate(tiers):
        here = f"{where}[{index}]"
        following = tiers[index + 1] if index + 1 < len(tiers) else None
        if following is not None and tier.notional_cap != following.notional_floor:
            raise InputError(
                f"{here}.notional_cap: {_opt(tier.notional_cap)} must equal the next tier's "
                f"notional_floor {fmt(following.notional_floor)} (tiers cover notionals with no "
                "gap and no overlap)"
            )
        if tier.notional_cap is not None and tier.notional_cap <= tier.notional_floor:
            raise InputError(f"{here}.notional_cap: must be above notional_floor")
        if tier.maintenance_margin(tier.notional_floor) < ZERO:
            raise InputError(
                f"{here}.maint_amount: {fmt(tier.maint_amount)} exceeds notional_floor x "
                f"maint_margin_rate = {fmt(tier.notional_floor * tier.maint_margin_rate)}: the "
                "maintenance margin would be negative"
            )


def _instrument(venue: Venue, symbol: str, pos: Mapping[str, Any], where: str) -> Instrument:
    has_rate = "maint_margin_rate" in pos or "maint_amount" in pos
    if has_rate and "tiers" in pos:
        raise InputError(f"{where}: give either maint_margin_rate/maint_amount or tiers, not both")
    bundled = bundled_for(venue).get(symbol)
    if has_rate:
        rate = _number(pos, "maint_margin_rate", where, allow_zero=True)
        if rate >= 1:
            raise InputError(f"{where}.maint_margin_rate: {fmt(rate)} must be below 1")
        tiers = TierTable.single(
            rate, _number(pos, "maint_amount", where, allow_zero=True, default=ZERO)
        )
    elif "tiers" in pos:
        tiers = _tier_table(pos["tiers"], f"{where}.tiers")
    elif bundled is not None:
        return bundled
    else:
        raise InputError(
            f"{where}: no bundled maintenance tiers for {venue} {symbol}; give maint_margin_rate "
            "and maint_amount, or a tiers table"
        )
    if bundled is not None:
        return replace(bundled, tiers=tiers)
    # OKX tiers are by size: a table given here has floors and caps in base units.
    return Instrument(
        venue, symbol, "", "USDT", "USDT", tiers, tiers_by_quantity=venue is Venue.OKX
    )


def build_account(document: object) -> Account:
    """An `Account` holding the positions the input describes, marks set."""
    root = _object(document, "input", _ACCOUNT_KEYS)
    venue = _choice(root, "venue", "input", Venue)
    account_type = _account_type(root, venue)
    formulas = formulas_for(venue, account_type)
    charges_fee = formulas.includes_close_fee
    mode = _choice(root, "position_mode", "input", PositionMode, PositionMode.ONE_WAY)
    wallet = _number(root, "wallet_balance", "input", allow_zero=True)
    raw_positions = root.get("positions", [])
    if not isinstance(raw_positions, list):
        raise InputError("input.positions: expected a list of positions")
    parsed: list[tuple[Position, Instrument, Decimal, Decimal]] = []
    default_taker = DEFAULT_FEES[venue].taker
    for index, raw in enumerate(raw_positions):
        where = f"positions[{index}]"
        if isinstance(raw, dict) and "taker_fee_rate" in raw and not charges_fee:
            raise InputError(
                f"{where}.taker_fee_rate: {venue}{_type_words(account_type)} requirements carry "
                "no fee to close; remove the field"
            )
        position, instrument, mark = _position(venue, mode, raw, where)
        taker = _number(raw, "taker_fee_rate", where, allow_zero=True, default=default_taker)
        if taker >= 1:
            raise InputError(
                f"{where}.taker_fee_rate: {fmt(taker)} must be below 1 (0.0005 = 0.05 %)"
            )
        if (
            position.margin_mode is MarginMode.ISOLATED
            and "isolated_margin" not in raw
            and formulas.reserves_close_fee
        ):
            # A Unified account's new isolated position holds its IM: the fee to close too.
            leg = Leg(
                position.side,
                position.qty,
                position.entry_price,
                instrument.tiers,
                position.leverage,
                taker,
            )
            position.isolated_margin += formulas.close_fee(leg, position.entry_price)
        parsed.append((position, instrument, mark, taker))
    instruments = {instrument.symbol: instrument for _, instrument, _, _ in parsed}
    account = Account(
        venue,
        instruments,
        wallet,
        position_mode=mode,
        fees=FeeSchedule(ZERO, ZERO),
        account_type=account_type,
    )
    marks: dict[str, Decimal] = {}
    for index, (position, instrument, mark, taker) in enumerate(parsed):
        known = marks.setdefault(position.symbol, mark)
        if known != mark:
            raise InputError(
                f"positions[{index}].mark_price: {fmt(mark)} differs from {fmt(known)} given for "
                f"the other {position.symbol} position; one symbol has one mark price"
            )
        known_taker = account.taker_fee_rates.setdefault(position.symbol, taker)
        if known_taker != taker:
            raise InputError(
                f"positions[{index}].taker_fee_rate: {fmt(taker)} differs from {fmt(known_taker)} "
                f"given for the other {position.symbol} position; one symbol has one fee rate"
            )
        notional = instrument.tier_size(position.qty, mark)
        if instrument.tiers.maintenance_margin(notional) < ZERO:
            tier = instrument.tiers.tier_for(notional)
            raise InputError(
                f"positions[{index}]: maint_amount {fmt(tier.maint_amount)} exceeds notional "
                f"{fmt(notional)} x maint_margin_rate {fmt(tier.maint_margin_rate)}: the "
                "maintenance margin would be negative; give the bracket that holds this notional"
            )
    try:
        account.load_positions([position for position, _, _, _ in parsed])
    except MarginbotError as exc:
        raise InputError(str(exc)) from None
    for symbol, mark in marks.items():
        account.set_mark(symbol, mark)
    return account


def _account_type(root: Mapping[str, Any], venue: Venue) -> AccountType | None:
    if venue is not Venue.BYBIT:
        if "account_type" in root:
            raise InputError(
                f"input.account_type: {venue} accounts have one type; the field is Bybit's "
                '("unified" or "classic"): remove it'
            )
        return None
    return _choice(root, "account_type", "input", AccountType, default_account_type(venue))


def _type_words(account_type: AccountType | None) -> str:
    return f" {account_type}" if account_type is not None else ""


def _position(
    venue: Venue, mode: PositionMode, raw: object, where: str
) -> tuple[Position, Instrument, Decimal]:
    pos = _object(raw, where, _POSITION_KEYS)
    symbol = pos.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise InputError(f'{where}.symbol: missing; expected a symbol such as "BTCUSDT"')
    symbol = symbol.strip().upper()
    side = _choice(pos, "side", where, Side)
    qty = _number(pos, "qty", where)
    entry = _number(pos, "entry_price", where)
    leverage = _number(pos, "leverage", where)
    if leverage < 1:
        raise InputError(f"{where}.leverage: {fmt(leverage)} is not allowed; expected 1 or more")
    margin_mode = _choice(pos, "margin_mode", where, MarginMode)
    if margin_mode is MarginMode.CROSS and "isolated_margin" in pos:
        raise InputError(
            f"{where}.isolated_margin: a cross position has no isolated margin (the cross wallet "
            'backs it); remove the field or set margin_mode to "isolated"'
        )
    isolated = ZERO
    if margin_mode is MarginMode.ISOLATED:
        isolated = _number(pos, "isolated_margin", where, default=div(qty * entry, leverage))
    mark = _number(pos, "mark_price", where, default=entry)
    slot = PositionSlot.BOTH if mode is PositionMode.ONE_WAY else PositionSlot(side.value)
    instrument = _instrument(venue, symbol, pos, where)
    position = Position(symbol, slot, side, qty, entry, margin_mode, leverage, isolated)
    return position, instrument, mark


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def position_json(p: PositionFigures) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "side": str(p.side),
        "margin_mode": str(p.margin_mode),
        "qty": fmt(p.qty),
        "entry_price": fmt(p.entry_price),
        "mark_price": fmt(p.mark_price),
        "leverage": fmt(p.leverage),
        "notional": fmt(p.notional),
        "liquidation_price": _opt(p.liquidation_price),
        "bankruptcy_price": _opt(p.bankruptcy_price),
        "maintenance_margin": fmt(p.maintenance_margin),
        "close_fee": fmt(p.close_fee),
        "initial_margin": fmt(p.initial_margin),
        "isolated_margin": fmt(p.isolated_margin) if p.margin_mode is MarginMode.ISOLATED else None,
        "margin_balance": fmt(p.margin_balance),
        "unrealized_pnl": fmt(p.unrealized_pnl),
        "margin_ratio": _opt(p.margin_ratio),
    }


def figures_json(figures: AccountFigures) -> dict[str, Any]:
    return {
        "account": {
            "wallet_balance": fmt(figures.wallet_balance),
            "isolated_margin": fmt(figures.isolated_margin),
            "unrealized_pnl": fmt(figures.unrealized_pnl),
            "margin_balance": fmt(figures.margin_balance),
            "maintenance_margin": fmt(figures.maintenance_margin),
            "margin_ratio": _opt(figures.margin_ratio),
            "cross_margin_balance": fmt(figures.cross_margin_balance),
            "cross_maintenance_margin": fmt(figures.cross_maintenance_margin),
            "cross_margin_ratio": _opt(figures.cross_margin_ratio),
            "available_balance": fmt(figures.available_balance),
        },
        "positions": [position_json(p) for p in figures.positions],
    }


def calculate(text: str, dumps: Callable[[object], str] | None = None) -> str:
    """The calculator end to end: JSON text in, JSON text out."""
    account = build_account(parse_json(text))
    result = figures_json(account_figures(account))
    return (dumps or (lambda obj: json.dumps(obj, indent=2)))(result)
