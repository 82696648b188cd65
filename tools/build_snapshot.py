"""Regenerate bot/markets/data/instruments.json from the permissively licensed recordings.

    .venv/bin/python tools/build_snapshot.py [SHARED_DATA_DIR]

Sources (see shared/data/SOURCES.md):
- Binance USDⓈ-M trading rules: `GET /fapi/v1/exchangeInfo` recorded by cryptofeed (2021-07-22),
  parsed by ccxt's own `binanceusdm.parse_market`.
- Binance maintenance brackets: ccxt's `leverageBrackets` cache in its static test data
  (MIT; floors and rates). Maintenance amounts are derived with Binance's documented continuity
  rule. Maximum leverage per bracket is not in that data, so the snapshot leaves it unknown.
No Bybit risk-limit table exists in a permissively licensed recording, so no Bybit instrument is
bundled: Bybit tiers come from ccxt (`fetch_leverage_tiers`) or from the user.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt

from bot.core.instruments import Instrument
from bot.core.values import Venue, fmt
from bot.markets.ccxt_convert import instrument_from_ccxt, tiers_from_ccxt
from bot.markets.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = {
    "BTCUSDT": "BTC/USDT:USDT",
    "ETHUSDT": "ETH/USDT:USDT",
    "LTCUSDT": "LTC/USDT:USDT",
    "ADAUSDT": "ADA/USDT:USDT",
}


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def _to_json(instrument: Instrument, source: str) -> dict[str, Any]:
    return {
        "venue": str(instrument.venue),
        "symbol": instrument.symbol,
        "base": instrument.base,
        "quote": instrument.quote,
        "settle": instrument.settle,
        "tick_size": _dec(instrument.tick_size),
        "lot_size": _dec(instrument.lot_size),
        "min_qty": _dec(instrument.min_qty),
        "min_notional": _dec(instrument.min_notional),
        "max_leverage": _dec(instrument.max_leverage),
        "liquidation_fee_rate": fmt(instrument.liquidation_fee_rate),
        "tiers": [
            {
                "notional_floor": fmt(t.notional_floor),
                "notional_cap": _dec(t.notional_cap),
                "maint_margin_rate": fmt(t.maint_margin_rate),
                "maint_amount": fmt(t.maint_amount),
                "max_leverage": _dec(t.max_leverage),
            }
            for t in instrument.tiers.tiers
        ],
        "source": source,
    }


def build(shared: Path) -> dict[str, Any]:
    records = [json.loads(line) for line in (shared / "cryptofeed/BINANCE_FUTURES.jsonl").open()]
    exchange_info = json.loads(
        next(r for r in records if r.get("t") == "http" and "exchangeInfo" in r["url"])["data"]
    )
    raw_markets = {s["symbol"]: s for s in exchange_info["symbols"]}
    excerpt = json.loads((shared / "ccxt/binance.usdm-excerpt.json").read_text())
    brackets = excerpt["options"]["leverageBrackets"]
    parser = ccxt.binanceusdm()
    instruments = []
    for symbol, unified in SYMBOLS.items():
        market = parser.parse_market(raw_markets[symbol])
        rows = brackets[unified]
        tier_rows = [
            {
                "minNotional": floor,
                "maxNotional": rows[i + 1][0] if i + 1 < len(rows) else None,
                "maintenanceMarginRate": rate,
                "maxLeverage": None,
                "info": {},
            }
            for i, (floor, rate) in enumerate(rows)
        ]
        instrument = instrument_from_ccxt(
            Venue.BINANCE, market, tiers_from_ccxt(Venue.BINANCE, tier_rows)
        )
        instruments.append(
            _to_json(
                instrument,
                "rules: Binance exchangeInfo 2021-07-22 (cryptofeed sample_data); brackets: ccxt "
                "static test data leverageBrackets (MIT), cum derived",
            )
        )
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "sources": [
            "cryptofeed sample_data/BINANCE_FUTURES (XFree86-1.1-style licence, (C) Bryant Moscon)",
            "ccxt ts/src/test/static/response/binance.json (MIT)",
        ],
        "instruments": instruments,
    }


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    out = ROOT / "bot/markets/data/instruments.json"
    out.write_text(json.dumps(build(shared), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
