"""Regenerate the simulator's REST bodies from the permissively licensed recordings.

    .venv/bin/python tools/build_sim_data.py [SHARED_DATA_DIR]

- bot/sim/data/binance_exchange_info.json: `GET /fapi/v1/exchangeInfo` recorded by cryptofeed on
  2021-07-22, keeping the bundled symbols.
- bot/sim/data/bybit_instruments.json: `GET /v5/market/instruments-info?category=linear` recorded
  by cryptofeed on 2026-08-09, keeping four symbols.
- bot/sim/data/okx_instruments.json: `GET /api/v5/public/instruments?instType=SWAP` recorded by
  cryptofeed on 2022-05-13, keeping four USDT swaps; each row gains `instFamily` (= its `uly`),
  which today's answers carry (OKX API docs v5, "Get instruments") and ccxt's
  `fetch_market_leverage_tiers` needs; the 2022 recording predates the field.
cryptofeed sample data: XFree86-1.1-style licence, Copyright (C) 2017-2025 Bryant Moscon.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BINANCE_SYMBOLS = ("BTCUSDT", "ETHUSDT", "LTCUSDT", "ADAUSDT")
BYBIT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")
OKX_SWAPS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "ADA-USDT-SWAP", "ALGO-USDT-SWAP")


def _http_bodies(path: Path) -> dict[str, Any]:
    records = (json.loads(line) for line in path.open())
    return {r["url"]: json.loads(r["data"]) for r in records if r.get("t") == "http"}


def build(shared: Path) -> dict[str, Any]:
    binance = _http_bodies(shared / "cryptofeed/BINANCE_FUTURES.jsonl")
    info = next(body for url, body in binance.items() if url.endswith("/exchangeInfo"))
    info = {**info, "symbols": [s for s in info["symbols"] if s["symbol"] in BINANCE_SYMBOLS]}
    bybit = _http_bodies(shared / "cryptofeed/BYBIT.jsonl")
    linear = next(body for url, body in bybit.items() if "category=linear" in url)
    linear = {
        **linear,
        "result": {
            **linear["result"],
            "nextPageCursor": "",
            "list": [item for item in linear["result"]["list"] if item["symbol"] in BYBIT_SYMBOLS],
        },
    }
    okx = _http_bodies(shared / "cryptofeed/OKX.jsonl")
    swaps = next(body for url, body in okx.items() if url.endswith("instType=SWAP"))
    rows = [{**i, "instFamily": i["uly"]} for i in swaps["data"] if i["instId"] in OKX_SWAPS]
    swaps = {**swaps, "data": rows}
    return {
        "binance_exchange_info.json": info,
        "bybit_instruments.json": linear,
        "okx_instruments.json": swaps,
    }


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    for name, body in build(shared).items():
        out = ROOT / "bot/sim/data" / name
        out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
