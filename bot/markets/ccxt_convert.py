"""Build instruments from ccxt's unified `fetch_markets` and `fetch_leverage_tiers` output.

The raw exchange fields under `info` are preferred: they are the exchange's own strings. ccxt's
unified numbers are floats; where we must read one, we take its shortest repr, which is the JSON
text the exchange sent for every value these tables hold (e.g. 0.004, 50000).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.core.instruments import Instrument, MaintenanceTier, TierTable, derive_maint_amounts
from bot.core.values import ZERO, Venue, fmt, parse_decimal
from bot.errors import InputError


def wire_decimal(raw: object, field: str) -> Decimal:
    """A Decimal from an exchange value: a string, an int, or a float from a JSON number."""
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        return parse_decimal(raw, field)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _optional(raw: object, field: str) -> Decimal | None:
    if raw is None or raw == "":
        return None
    return wire_decimal(raw, field)


def _first(*candidates: object) -> object:
    return next((c for c in candidates if c is not None and c != ""), None)


def tiers_from_ccxt(venue: Venue, tiers: Sequence[Mapping[str, Any]]) -> TierTable:
    """Tiers from ccxt's unified leverage tiers, with the venue's raw values where present.

    Binance `info`: notionalFloor, notionalCap, maintMarginRatio, cum, initialLeverage.
    Bybit `info`: riskLimitValue (the cap), maintenanceMargin (a rate, as ccxt maps it),
    mmDeduction (may be "" for the first tier), maxLeverage.
    A missing maintenance amount is derived so that maintenance margin is continuous.
    """
    if not tiers:
        raise InputError(f"{venue}: empty leverage tier list")
    rows = sorted(tiers, key=lambda t: wire_decimal(t.get("minNotional", 0), "minNotional"))
    floors: list[Decimal] = []
    caps: list[Decimal | None] = []
    rates: list[Decimal] = []
    amounts: list[Decimal | None] = []
    leverages: list[Decimal | None] = []
    for row in rows:
        info = row.get("info") or {}
        floors.append(
            wire_decimal(
                _first(info.get("notionalFloor"), row.get("minNotional"), 0), "minNotional"
            )
        )
        caps.append(
            _optional(
                _first(info.get("notionalCap"), info.get("riskLimitValue"), row.get("maxNotional")),
                "maxNotional",
            )
        )
        rates.append(
            wire_decimal(
                _first(
                    info.get("maintMarginRatio"),
                    info.get("maintenanceMargin"),
                    row.get("maintenanceMarginRate"),
                ),
                "maintenanceMarginRate",
            )
        )
        amounts.append(_optional(_first(info.get("cum"), info.get("mmDeduction")), "cum"))
        leverages.append(
            _optional(
                _first(
                    info.get("initialLeverage"), info.get("maxLeverage"), row.get("maxLeverage")
                ),
                "maxLeverage",
            )
        )
    if floors[0] != ZERO:
        floors[0] = ZERO
    derived = derive_maint_amounts(floors, rates)
    try:
        return TierTable(
            tuple(
                MaintenanceTier(floor, cap, rate, amount if amount is not None else fallback, lev)
                for floor, cap, rate, amount, fallback, lev in zip(
                    floors, caps, rates, amounts, derived, leverages, strict=True
                )
            )
        )
    except ValueError as exc:
        raise InputError(f"{venue}: bad leverage tiers: {exc}") from None


def _positive(raw: object, field: str) -> Decimal:
    value = wire_decimal(raw, field)
    if value <= ZERO:
        raise InputError(
            f"okx: {field} {fmt(value)} is not a positive size; the venue's answer cannot be "
            "used: load the markets again or trade a bundled swap"
        )
    return value


def okx_tiers(rows: Sequence[Mapping[str, Any]], contract_value: Decimal) -> TierTable:
    """OKX position tiers (`GET /api/v5/public/position-tiers` rows: minSz, maxSz in contracts,
    mmr, maxLever) as a table in base units: a tier holds sizes from its minSz up to the next
    tier's minSz (OKX numbers them 0–500, 501–1,000 ...), its MMR on the whole position."""
    if not rows:
        raise InputError("okx: empty position tier list")
    if contract_value <= ZERO:
        raise InputError(f"okx: contract value {fmt(contract_value)} must be positive")
    try:
        sizes = [(wire_decimal(r["minSz"], "minSz"), r) for r in rows]
    except (KeyError, TypeError, AttributeError):
        raise InputError("okx: a position tier lacks minSz") from None
    ordered = [row for _, row in sorted(sizes, key=lambda pair: pair[0])]
    floors = [size * contract_value for size, _ in sorted(sizes, key=lambda pair: pair[0])]
    if len(set(floors)) != len(floors):
        raise InputError("okx: two position tiers start at the same size")
    floors[0] = ZERO
    caps: list[Decimal | None] = [*floors[1:], None]
    try:
        return TierTable(
            tuple(
                MaintenanceTier(
                    floor,
                    cap,
                    wire_decimal(row["mmr"], "mmr"),
                    ZERO,
                    _optional(row.get("maxLever"), "maxLever"),
                )
                for floor, cap, row in zip(floors, caps, ordered, strict=True)
            )
        )
    except (KeyError, TypeError, AttributeError):
        raise InputError("okx: a position tier lacks its mmr") from None
    except ValueError as exc:
        raise InputError(f"okx: bad position tiers: {exc}") from None


def _okx_instrument(market: Mapping[str, Any], tiers: TierTable) -> Instrument:
    """OKX swaps trade in contracts of `ctVal` base units; the ledger keeps base units."""
    info: Mapping[str, Any] = market.get("info") or {}
    contract = _positive(info["ctVal"], "ctVal")
    return Instrument(
        venue=Venue.OKX,
        symbol=str(info["instId"]),
        base=str(market.get("base", "")),
        quote=str(market.get("quote", "")),
        settle=str(info.get("settleCcy") or market.get("settle", "")),
        tiers=tiers,
        tick_size=_positive(info["tickSz"], "tickSz"),
        lot_size=_positive(info["lotSz"], "lotSz") * contract,
        min_qty=_positive(info["minSz"], "minSz") * contract,
        min_notional=ZERO,
        max_leverage=_optional(info.get("lever"), "lever"),
        contract_value=contract,
        tiers_by_quantity=True,
    )


def _binance_filters(info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f.get("filterType", ""): f for f in info.get("filters", [])}


def instrument_from_ccxt(venue: Venue, market: Mapping[str, Any], tiers: TierTable) -> Instrument:
    """An instrument from one ccxt unified market and its tier table."""
    info: Mapping[str, Any] = market.get("info") or {}
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    if venue is Venue.OKX:
        try:
            return _okx_instrument(market, tiers)
        except (KeyError, TypeError) as exc:
            raise InputError(f"okx: market {market.get('symbol')!r} lacks {exc}") from None
    if venue is Venue.BINANCE:
        filters = _binance_filters(info)
        tick = _first(filters.get("PRICE_FILTER", {}).get("tickSize"), precision.get("price"))
        lot = _first(filters.get("LOT_SIZE", {}).get("stepSize"), precision.get("amount"))
        min_qty = _first(
            filters.get("LOT_SIZE", {}).get("minQty"), (limits.get("amount") or {}).get("min")
        )
        min_notional = _first(
            filters.get("MIN_NOTIONAL", {}).get("notional"),
            (limits.get("cost") or {}).get("min"),
            0,
        )
        max_leverage: object = (limits.get("leverage") or {}).get("max")
        liquidation_fee: object = _first(info.get("liquidationFee"), 0)
    else:
        price_filter = info.get("priceFilter") or {}
        lot_filter = info.get("lotSizeFilter") or {}
        tick = _first(price_filter.get("tickSize"), precision.get("price"))
        lot = _first(lot_filter.get("qtyStep"), precision.get("amount"))
        min_qty = _first(lot_filter.get("minOrderQty"), (limits.get("amount") or {}).get("min"))
        min_notional = _first(
            lot_filter.get("minNotionalValue"), (limits.get("cost") or {}).get("min"), 0
        )
        max_leverage = _first(
            (info.get("leverageFilter") or {}).get("maxLeverage"),
            (limits.get("leverage") or {}).get("max"),
        )
        # Bybit closes liquidated positions at the bankruptcy price; no separate clearance fee.
        liquidation_fee = 0
    symbol = str(market.get("id") or info.get("symbol") or "")
    if not symbol or tick is None or lot is None or min_qty is None:
        raise InputError(f"{venue}: market {market.get('symbol')!r} lacks id, tick or lot size")
    return Instrument(
        venue=venue,
        symbol=symbol,
        base=str(market.get("base", "")),
        quote=str(market.get("quote", "")),
        settle=str(market.get("settle") or market.get("quote", "")),
        tiers=tiers,
        tick_size=wire_decimal(tick, "tickSize"),
        lot_size=wire_decimal(lot, "stepSize"),
        min_qty=wire_decimal(min_qty, "minQty"),
        min_notional=wire_decimal(min_notional, "minNotional"),
        max_leverage=_optional(max_leverage, "maxLeverage"),
        liquidation_fee_rate=wire_decimal(liquidation_fee, "liquidationFee"),
    )
