"""Load instruments live through ccxt: `fetch_markets` plus `fetch_leverage_tiers`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from bot.core.instruments import Instrument, TierTable
from bot.core.values import Venue
from bot.errors import UnknownInstrument
from bot.markets.ccxt_convert import instrument_from_ccxt, okx_tiers, tiers_from_ccxt, wire_decimal


def point_at(exchange: Any, base_url: str) -> None:
    """Send every REST call of a ccxt exchange to `base_url` (the simulator), keeping paths.

    ccxt keeps its endpoints in `exchange.urls["api"]`, a nested mapping of full URLs.
    """
    base = base_url.rstrip("/")

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, str) and node.startswith(("http://", "https://")):
            parsed = urlparse(node)
            return base + parsed.path + (f"?{parsed.query}" if parsed.query else "")
        return node

    exchange.urls["api"] = rewrite(exchange.urls["api"])


async def load_instruments(
    exchange: Any, venue: Venue, symbols: list[str]
) -> dict[str, Instrument]:
    """Instruments for venue symbols ("BTCUSDT"), with their tiers, from a ccxt async exchange."""
    markets = await exchange.load_markets()
    by_id = {m["id"]: m for m in markets.values() if m.get("swap") and m.get("linear")}
    missing = [s for s in symbols if s not in by_id]
    if missing:
        raise UnknownInstrument(f"{venue} lists no linear perpetual {', '.join(missing)}")
    unified = [by_id[s]["symbol"] for s in symbols]
    if venue is Venue.OKX:  # ccxt: fetchLeverageTiers False, fetchMarketLeverageTiers True
        tiers = {u: await exchange.fetch_market_leverage_tiers(u) for u in unified}
    else:
        tiers = await exchange.fetch_leverage_tiers(unified)

    def table(symbol: str) -> TierTable:
        rows = tiers[by_id[symbol]["symbol"]]
        if venue is Venue.OKX:  # raw position tiers in contracts: to base units
            contract = wire_decimal(by_id[symbol]["info"]["ctVal"], "ctVal")
            return okx_tiers([row["info"] for row in rows], contract)
        return tiers_from_ccxt(venue, rows)

    return {symbol: instrument_from_ccxt(venue, by_id[symbol], table(symbol)) for symbol in symbols}
