"""Regenerate bot/markets/data/instruments.json from the permissively licensed recordings.

    .venv/bin/python tools/build_snapshot.py [SHARED_DATA_DIR]

Sources (see shared/data/SOURCES.md):
- Binance USDⓈ-M trading rules: `GET /fapi/v1/exchangeInfo` recorded by cryptofeed (2021-07-22),
  parsed by ccxt's own `binanceusdm.parse_market`.
- Binance maintenance brackets: ccxt's `leverageBrackets` cache in its static test data
  (MIT; floors and rates). Maintenance amounts are derived with Binance's documented continuity
  rule. Maximum leverage per bracket is not in that data, so the snapshot leaves it unknown.
- OKX USDT swaps: `GET /api/v5/public/instruments?instType=SWAP` recorded by cryptofeed
  (2022-05-13), parsed by ccxt's own `okx.parse_market`; position tiers as OKX published them in
  "OKX Perpetual Swap Maintenance Margin to be adjusted" (announcement of 2022-06-09, tiers 1–4
  in contracts, then "increase by the last tier's width and by 0.5 %"), the nearest published
  tiers to that recording (`OKX_TIERS` below; tiers 5–8 follow the stated rule, max leverage
  1 / min initial margin ratio, rounded down to 2 decimals as OKX shows it).
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
from bot.markets.ccxt_convert import instrument_from_ccxt, okx_tiers, tiers_from_ccxt
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
        **(
            {"contract_value": fmt(instrument.contract_value), "tiers_by_quantity": True}
            if instrument.tiers_by_quantity and instrument.contract_value is not None
            else {}
        ),
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


# instId: (tier-1..4 max contracts, tier-1..4 MMR %, tier-1..4 min IMR %), OKX 2022-06-09.
OKX_TIERS = {
    "ADA-USDT-SWAP": ((500, 1000, 6000, 12000), ("1", "1.5", "2", "2.5"), ("1.3", "2", "5", "5.5")),
    "ALGO-USDT-SWAP": (
        (500, 1200, 25000, 50000),
        ("1", "1.5", "2", "2.5"),
        ("1.3", "2", "5", "5.5"),
    ),
}
OKX_TIER_COUNT = 8
PUBLISHED_MAX_LEVERAGE = (Decimal(75), Decimal(50), Decimal(20), Decimal("18.18"))


def _okx_tier_rows(instrument: str) -> list[dict[str, str]]:
    caps, mmrs, imrs = OKX_TIERS[instrument]
    cap_list = list(caps)
    mmr_list = [Decimal(m) for m in mmrs]
    imr_list = [Decimal(i) for i in imrs]
    while len(cap_list) < OKX_TIER_COUNT:  # "increase by ... from the previous tier"
        cap_list.append(cap_list[-1] + (caps[3] - caps[2]))
        mmr_list.append(mmr_list[-1] + Decimal("0.5"))
        imr_list.append(imr_list[-1] + Decimal("0.5"))
    rows = []
    for index, cap in enumerate(cap_list):
        floor = 0 if index == 0 else cap_list[index - 1] + 1
        leverage = (
            PUBLISHED_MAX_LEVERAGE[index]
            if index < len(PUBLISHED_MAX_LEVERAGE)
            else (Decimal(100) / imr_list[index]).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        )
        rows.append(
            {
                "minSz": str(floor),
                "maxSz": str(cap),
                "mmr": fmt(mmr_list[index] / 100),
                "imr": fmt(imr_list[index] / 100),
                "maxLever": fmt(leverage),
            }
        )
    return rows


def build_okx(shared: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in (shared / "cryptofeed/OKX.jsonl").open()]
    raw = json.loads(
        next(r for r in records if r.get("t") == "http" and "instType=SWAP" in r["url"])["data"]
    )
    by_id = {i["instId"]: i for i in raw["data"]}
    parser = ccxt.okx()
    out = []
    for inst_id in OKX_TIERS:
        market = parser.parse_market(by_id[inst_id])
        contract = Decimal(by_id[inst_id]["ctVal"])
        instrument = instrument_from_ccxt(
            Venue.OKX, market, okx_tiers(_okx_tier_rows(inst_id), contract)
        )
        out.append(
            _to_json(
                instrument,
                "rules: OKX public/instruments SWAP 2022-05-13 (cryptofeed sample_data); tiers: "
                "OKX announcement 2022-06-09 (contracts x ctVal)",
            )
        )
    return out


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
            "cryptofeed sample_data/OKX (same licence); OKX announcement 2022-06-09 (tiers)",
        ],
        "instruments": instruments + build_okx(shared),
    }


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    out = ROOT / "bot/markets/data/instruments.json"
    out.write_text(json.dumps(build(shared), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
