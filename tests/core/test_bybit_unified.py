"""Bybit Unified Trading Account figures against real position answers, through `marginbot
margin` (the calculator): maintenance and initial margin within 1e-6.

The answers are Bybit v5/v3 `position/list` rows recorded in ccxt (MIT): its test fixture (LTCUSDT)
and response samples kept in ts/src/bybit.ts (ETHUSDT `unified_margin_v3`, XRPUSDT
`unified_account_v5`, a classic `linear_swap_contract_v3` ETHUSDT); in
../shared/data/ccxt/bybit-position-answers.json. The maintenance margin rates are the symbols'
first risk limits (ETHUSDT 0.5 %, XRPUSDT and LTCUSDT 1 %: the answers' positionMM less the fee
leaves exactly value × that rate); the taker rates are the accounts' (0.06 %, Bybit's VIP 0 rate
then, for the v3 samples; 0.055 % for the 2023 LTCUSDT fixture).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bot.calculator import calculate
from bot.errors import InputError
from tests.conftest import shared_data

ANSWERS = "ccxt/bybit-position-answers.json"
TOLERANCE = Decimal("1e-6")


def _answers() -> dict[str, dict[str, Any]]:
    document = json.loads(shared_data(ANSWERS).read_text())
    samples = document["source_samples"]["samples"]
    fixture = document["fixtures"]["records"][0]["httpResponse"]["result"]["list"][0]
    return {
        "ETHUSDT": samples["unified_margin_v3"]["record"],
        "XRPUSDT": samples["unified_account_v5"]["record"],
        "LTCUSDT": fixture,
        "classic": samples["parsePosition_linear_swap_contract_v3"]["record"],
    }


def _figures(row: dict[str, Any], mmr: str, taker: str, **account: str) -> dict[str, Any]:
    entry = row.get("avgPrice") or row["entryPrice"]
    document = {
        "venue": "bybit",
        **account,
        "wallet_balance": "100000",
        "positions": [
            {
                "symbol": row["symbol"],
                "side": "long" if row["side"] == "Buy" else "short",
                "qty": row["size"],
                "entry_price": entry,
                "leverage": row["leverage"],
                "margin_mode": "cross",
                "mark_price": row["markPrice"],
                "maint_margin_rate": mmr,
                **({"taker_fee_rate": taker} if not account else {}),
            }
        ],
    }
    positions: list[dict[str, Any]] = json.loads(calculate(json.dumps(document)))["positions"]
    return positions[0]


@pytest.mark.parametrize(
    ("symbol", "mmr", "taker"),
    [("ETHUSDT", "0.005", "0.0006"), ("XRPUSDT", "0.01", "0.0006"), ("LTCUSDT", "0.01", "0.00055")],
)
def test_unified_margins_match_the_real_answers(symbol: str, mmr: str, taker: str) -> None:
    row = _answers()[symbol]
    figures = _figures(row, mmr, taker)
    assert abs(Decimal(figures["maintenance_margin"]) - Decimal(row["positionMM"])) <= TOLERANCE
    assert abs(Decimal(figures["initial_margin"]) - Decimal(row["positionIM"])) <= TOLERANCE
    # Without the fee to close the figures are 4.6–10.8 % low: the fee is what matches.
    assert Decimal(figures["close_fee"]) > TOLERANCE * 100


def test_the_exact_digits_of_the_ethusdt_answer() -> None:
    figures = _figures(_answers()["ETHUSDT"], "0.005", "0.0006")
    # 536.925 × 0.5 % + 0.5 × 1073.85 × (1 − 1/10) × 0.06 % = 2.684625 + 0.2899395
    assert Decimal(figures["maintenance_margin"]) == Decimal("2.9745645")
    assert Decimal(figures["initial_margin"]) == Decimal("53.9824395")


def test_classic_account_keeps_the_article_formulas_and_the_real_classic_answer() -> None:
    row = _answers()["classic"]  # isolated ETHUSDT 0.1 at 1198.45, 4.2x: liq 919.10
    document = {
        "venue": "bybit",
        "account_type": "classic",
        "wallet_balance": "1000",
        "positions": [
            {
                "symbol": "ETHUSDT",
                "side": "long",
                "qty": row["size"],
                "entry_price": row["entryPrice"],
                "leverage": row["leverage"],
                "margin_mode": "isolated",
                "maint_margin_rate": "0.005",
            }
        ],
    }
    figures = json.loads(calculate(json.dumps(document)))["positions"][0]
    assert Decimal(figures["liquidation_price"]).quantize(Decimal("0.01")) == Decimal(
        row["liqPrice"]
    )
    assert figures["close_fee"] == "0"
    unified = json.loads(calculate(json.dumps({**document, "account_type": "unified"})))
    # A Unified account's requirement is higher by the fee: 0.1 × 1198.45 × (1 − 1/4.2) × 0.055 %.
    higher = Decimal(unified["positions"][0]["maintenance_margin"])
    assert higher - Decimal(figures["maintenance_margin"]) == Decimal("0.05022076")


def test_the_fee_field_is_refused_where_no_fee_is_charged() -> None:
    for account in ({"venue": "binance"}, {"venue": "bybit", "account_type": "classic"}):
        document = {
            **account,
            "wallet_balance": "1000",
            "positions": [
                {
                    "symbol": "BTCUSDT",
                    "side": "long",
                    "qty": "1",
                    "entry_price": "100",
                    "leverage": "10",
                    "margin_mode": "cross",
                    "maint_margin_rate": "0.005",
                    "taker_fee_rate": "0.0005",
                }
            ],
        }
        with pytest.raises(InputError, match="no fee to close"):
            calculate(json.dumps(document))
    with pytest.raises(InputError, match="one type"):
        calculate(json.dumps({"venue": "okx", "account_type": "classic", "wallet_balance": "1"}))
    with pytest.raises(InputError, match="account_type"):
        calculate(json.dumps({"venue": "bybit", "account_type": "uta", "wallet_balance": "1"}))


def test_a_bybit_account_saved_before_account_types_loads_as_classic() -> None:
    """Its isolated margins were allocated without the fee to close: it keeps the formulas it
    was booked with. A new Bybit account is Unified."""
    from bot.core.ledger.account import Account
    from bot.core.ledger.margin import bybit
    from bot.core.values import AccountType, Venue
    from tests.conftest import instrument

    account = Account(Venue.BYBIT, {"BTCUSDT": instrument(venue=Venue.BYBIT)}, Decimal(100))
    assert account.account_type is AccountType.UNIFIED
    state = account.__getstate__()
    for newer in ("account_type", "taker_fee_rates"):
        state.pop(newer)
    old = Account.__new__(Account)
    old.__setstate__(state)
    assert old.account_type is AccountType.CLASSIC
    assert old.formulas is bybit.CLASSIC
    assert old.taker_fee_rates == {}
