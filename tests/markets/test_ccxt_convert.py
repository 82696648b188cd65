"""Instruments from real ccxt, fed with recorded exchange REST bodies (no network)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pytest

from bot.core.instruments import derive_maint_amounts
from bot.core.values import Venue
from bot.errors import InputError
from bot.markets.ccxt_convert import instrument_from_ccxt, tiers_from_ccxt
from bot.markets.snapshot import bundled_instruments
from tests.conftest import ROOT, shared_data


def recorded_http(relative: str) -> dict[str, str]:
    records = (json.loads(line) for line in shared_data(relative).open())
    return {r["url"]: r["data"] for r in records if r.get("t") == "http"}


def binance_exchange_info() -> dict[str, Any]:
    bodies = recorded_http("cryptofeed/BINANCE_FUTURES.jsonl")
    document: dict[str, Any] = json.loads(
        next(b for url, b in bodies.items() if url.endswith("/exchangeInfo"))
    )
    return document


def freqtrade_tiers() -> dict[str, list[dict[str, Any]]]:
    """ccxt `fetch_leverage_tiers` output for Binance (GPL file: read in place, never copied)."""
    tables: dict[str, list[dict[str, Any]]] = json.loads(
        shared_data("freqtrade/binance_leverage_tiers.json").read_text()
    )
    return tables


def test_binance_market_parsed_by_ccxt_becomes_an_instrument() -> None:
    raw = next(s for s in binance_exchange_info()["symbols"] if s["symbol"] == "BTCUSDT")
    market = ccxt.binanceusdm().parse_market(raw)
    tiers = tiers_from_ccxt(Venue.BINANCE, freqtrade_tiers()["BTC/USDT:USDT"])
    btc = instrument_from_ccxt(Venue.BINANCE, market, tiers)
    assert (btc.symbol, btc.base, btc.settle) == ("BTCUSDT", "BTC", "USDT")
    assert (btc.tick_size, btc.lot_size, btc.min_qty) == (
        Decimal("0.01"),
        Decimal("0.001"),
        Decimal("0.001"),
    )
    assert btc.min_notional == Decimal(5)
    assert btc.liquidation_fee_rate == Decimal("0.012")
    assert len(btc.tiers.tiers) == 12
    assert btc.tiers.tiers[1].maint_amount == Decimal(50)
    assert btc.leverage_limit == Decimal(125)


def test_binance_wire_brackets_through_ccxt_parse_leverage_tiers() -> None:
    """The wire body has JSON numbers; ccxt keeps them as floats in `info`."""
    stored = freqtrade_tiers()["BTC/USDT:USDT"]
    wire = [
        {
            "symbol": "BTCUSDT",
            "brackets": [
                {key: json.loads(value) for key, value in tier["info"].items()} for tier in stored
            ],
        }
    ]
    exchange = ccxt.binanceusdm()
    raw = next(s for s in binance_exchange_info()["symbols"] if s["symbol"] == "BTCUSDT")
    exchange.set_markets([exchange.parse_market(raw)])
    parsed = exchange.parse_leverage_tiers(wire, None, "symbol")["BTC/USDT:USDT"]
    from_wire = tiers_from_ccxt(Venue.BINANCE, parsed)
    assert from_wire == tiers_from_ccxt(Venue.BINANCE, stored)


def test_derived_maintenance_amounts_equal_binance_cum_for_every_symbol() -> None:
    tables = freqtrade_tiers()
    assert len(tables) == 349
    for symbol, tiers in tables.items():
        floors = [Decimal(t["info"]["notionalFloor"]) for t in tiers]
        rates = [Decimal(t["info"]["maintMarginRatio"]) for t in tiers]
        real = tuple(Decimal(t["info"]["cum"]) for t in tiers)
        assert derive_maint_amounts(floors, rates) == real, symbol


class RecordedBybit(ccxt.bybit):  # type: ignore[misc]
    """ccxt's Bybit class answering its HTTP calls from the recorded session."""

    def __init__(self, bodies: dict[str, str]) -> None:
        super().__init__(
            {"options": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}}}
        )
        self.bodies = bodies
        self.requested: list[str] = []

    def fetch(self, url, method="GET", headers=None, body=None):  # noqa: ARG002  (ccxt's signature)
        self.requested.append(url)
        query = parse_qs(urlparse(url).query)
        if query.get("status") == ["PreLaunch"]:
            return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}}
        for recorded, text in self.bodies.items():
            if "category=linear" in recorded and urlparse(recorded).path == urlparse(url).path:
                return json.loads(text)
        raise ccxt.ExchangeNotAvailable(f"no recording for {url}")


def test_bybit_market_loaded_by_ccxt_becomes_an_instrument() -> None:
    exchange = RecordedBybit(recorded_http("cryptofeed/BYBIT.jsonl"))
    markets = exchange.load_markets()
    tiers = tiers_from_ccxt(
        Venue.BYBIT,
        [
            {
                "minNotional": 0,
                "maxNotional": 2_000_000,
                "maintenanceMarginRate": 0.005,
                "maxLeverage": 100,
                "info": {
                    "riskLimitValue": "2000000",
                    "maintenanceMargin": "0.005",
                    "mmDeduction": "",
                    "maxLeverage": "100.00",
                },
            },
            {
                "minNotional": 2_000_000,
                "maxNotional": 4_000_000,
                "maintenanceMarginRate": 0.01,
                "maxLeverage": 50,
                "info": {
                    "riskLimitValue": "4000000",
                    "maintenanceMargin": "0.01",
                    "mmDeduction": "10000",
                    "maxLeverage": "50.00",
                },
            },
        ],
    )
    btc = instrument_from_ccxt(Venue.BYBIT, markets["BTC/USDT:USDT"], tiers)
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal(5),
    )
    assert btc.max_leverage == Decimal("100.00")
    assert btc.liquidation_fee_rate == 0
    # An empty first-tier mmDeduction is derived (0); the second keeps Bybit's own value.
    assert [t.maint_amount for t in btc.tiers.tiers] == [Decimal(0), Decimal(10_000)]
    assert all("api.bybit.com/v5/market/instruments-info" in url for url in exchange.requested)


def test_malformed_tiers_are_refused_with_the_field() -> None:
    with pytest.raises(InputError, match="maintenanceMarginRate"):
        tiers_from_ccxt(Venue.BINANCE, [{"minNotional": 0, "maintenanceMarginRate": "abc"}])
    with pytest.raises(InputError, match=r"must be in \[0, 1\)"):
        tiers_from_ccxt(Venue.BYBIT, [{"minNotional": 0, "maintenanceMarginRate": "1.5"}])
    with pytest.raises(InputError, match="empty"):
        tiers_from_ccxt(Venue.BINANCE, [])


def test_bundled_snapshot_is_what_the_build_tool_makes_from_shared_data() -> None:
    """The committed snapshot must be reproducible from its stated sources."""
    from tools.build_snapshot import build

    shared_data("ccxt/binance.usdm-excerpt.json")
    built = build(shared_data("ccxt").parent)
    committed = json.loads((ROOT / "bot/markets/data/instruments.json").read_text())
    assert built == committed
    btc = bundled_instruments()[(Venue.BINANCE, "BTCUSDT")]
    assert btc.tiers.tier_for(Decimal(10_000)).maint_margin_rate == Decimal("0.004")


def test_simulator_rest_data_is_what_the_build_tool_makes() -> None:
    from tools.build_sim_data import build

    built = build(shared_data("cryptofeed").parent)
    for name, body in built.items():
        committed = json.loads((ROOT / "bot/sim/data" / name).read_text())
        assert committed == body


WEIRD: list[Any] = ["NaN", "Infinity", "-1", "0", "", None, "1e400", "abc", 1.5, -3, [], {}]


def test_okx_markets_and_tiers_with_weird_values_are_refused_or_sane() -> None:
    """An OKX instrument or tier row from the venue (through ccxt) with a bad field becomes an
    instrument with positive sizes, or an `InputError` naming the field; never a crash."""
    import random

    from bot.markets.ccxt_convert import okx_tiers

    rng = random.Random(19)
    listing = json.loads((ROOT / "bot/sim/data/okx_instruments.json").read_text())
    parser = ccxt.okx()
    tiers = okx_tiers(
        [
            {"minSz": "0", "mmr": "0.01", "maxLever": "75"},
            {"minSz": "501", "mmr": "0.015", "maxLever": "50"},
        ],
        Decimal(100),
    )
    made = refused = 0
    for _ in range(400):
        row = dict(rng.choice(listing["data"]))
        for field in rng.sample(["ctVal", "lotSz", "minSz", "tickSz", "lever", "instId"], 2):
            row[field] = rng.choice(WEIRD)
        tier_rows: list[Any] = [
            {"minSz": "0", "mmr": rng.choice([*WEIRD, "0.01"]), "maxLever": "75"},
            {"minSz": rng.choice([*WEIRD, "501"]), "mmr": "0.015"},
        ]
        try:
            market = parser.parse_market(row)
        except Exception:  # noqa: S112 — ccxt's own parser refused it first
            continue
        try:
            instrument = instrument_from_ccxt(Venue.OKX, market, tiers)
            contract, lot = instrument.contract_value, instrument.lot_size
            assert contract is not None
            assert contract > 0
            assert lot is not None
            assert lot > 0
            okx_tiers(tier_rows, contract)
            made += 1
        except InputError as exc:
            words = str(exc)
            fields = ("ctVal", "lotSz", "minSz", "tickSz", "lever", "mmr", "tier")
            assert any(f in words for f in fields), words
            refused += 1
    assert made > 0
    assert refused > 0
