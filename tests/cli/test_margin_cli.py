"""`marginbot margin` end to end, through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import InputError

MARGINBOT = str(Path(sys.executable).with_name("marginbot"))

EXAMPLE = {
    "venue": "binance",
    "position_mode": "one_way",
    "wallet_balance": "2000",
    "positions": [
        {
            "symbol": "BTCUSDT",
            "side": "long",
            "qty": "1",
            "entry_price": "10000",
            "leverage": 10,
            "margin_mode": "isolated",
            "isolated_margin": "1000",
            "mark_price": "10000",
            "maint_margin_rate": "0.004",
            "maint_amount": "0",
        }
    ],
}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MARGINBOT, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def calc(document: object) -> dict:
    result = run("margin", stdin=json.dumps(document))
    assert result.returncode == 0, result.stderr
    parsed: dict = json.loads(result.stdout)
    return parsed


def test_the_issue_example_on_stdin() -> None:
    out = calc(EXAMPLE)
    [position] = out["positions"]
    assert position["liquidation_price"].startswith("9036.144578")
    assert Decimal(position["liquidation_price"]) == Decimal(-9000) / Decimal("-0.996")
    assert (position["maintenance_margin"], position["unrealized_pnl"]) == ("40", "0")
    assert position["margin_ratio"] == "0.04"  # 40 / 1000
    assert out["account"]["margin_balance"] == "3000"  # 2000 cross + 1000 isolated


def test_file_argument_and_dash(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps(EXAMPLE))
    from_file = run("margin", str(path))
    from_stdin = run("margin", "-", stdin=json.dumps(EXAMPLE))
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout


def test_cross_two_symbols_with_bundled_tiers_and_json_numbers() -> None:
    out = calc(
        {
            "venue": "binance",
            "wallet_balance": 2000,
            "positions": [
                {
                    "symbol": "BTCUSDT",
                    "side": "long",
                    "qty": 1,
                    "entry_price": 10000,
                    "leverage": 10,
                    "margin_mode": "cross",
                    "mark_price": 9500,
                },
                {
                    "symbol": "ETHUSDT",
                    "side": "short",
                    "qty": 2,
                    "entry_price": 1000,
                    "leverage": 10,
                    "margin_mode": "cross",
                    "mark_price": 1100,
                },
            ],
        }
    )
    btc, eth = out["positions"]
    # Bundled brackets: BTC 0.4 %, ETH 0.5 %. BTC: (2000 − 11 + (−200) − 10000) / (0.004 − 1)
    expected_btc = Decimal(2000 - 11 - 200 - 10000) / Decimal("-0.996")
    assert Decimal(btc["liquidation_price"]) == expected_btc
    # ETH short: (2000 − 38 + (−500) + 2000) / (2·0.005 + 2)
    expected_eth = Decimal(2000 - 38 - 500 + 2000) / Decimal("2.01")
    assert Decimal(eth["liquidation_price"]) == expected_eth
    assert out["account"]["cross_maintenance_margin"] == "49"


def test_tier_table_and_bracket_switch() -> None:
    out = calc(
        {
            "venue": "binance",
            "wallet_balance": "0",
            "positions": [
                {
                    "symbol": "BTCUSDT",
                    "side": "long",
                    "qty": "1",
                    "entry_price": "55000",
                    "leverage": 2,
                    "margin_mode": "isolated",
                    "isolated_margin": "27500",
                    "tiers": [
                        {
                            "notional_floor": "0",
                            "notional_cap": "50000",
                            "maint_margin_rate": "0.004",
                            "maint_amount": "0",
                        },
                        {
                            "notional_floor": "50000",
                            "notional_cap": "600000",
                            "maint_margin_rate": "0.005",
                            "maint_amount": "50",
                        },
                    ],
                }
            ],
        }
    )
    assert out["positions"][0]["liquidation_price"].startswith("27610.44")


def test_bybit_hedge_mode_and_unliquidatable_position() -> None:
    out = calc(
        {
            "venue": "bybit",
            "account_type": "classic",  # the article's formulas, without the fee to close
            "position_mode": "hedge",
            "wallet_balance": "0",
            "positions": [
                {
                    "symbol": "BTCUSDT",
                    "side": "long",
                    "qty": "1",
                    "entry_price": "20000",
                    "leverage": 50,
                    "margin_mode": "isolated",
                    "maint_margin_rate": "0.005",
                },
                {
                    "symbol": "BTCUSDT",
                    "side": "short",
                    "qty": "1",
                    "entry_price": "20000",
                    "leverage": 1,
                    "margin_mode": "isolated",
                    "isolated_margin": "1000000",
                    "maint_margin_rate": "0.005",
                },
            ],
        }
    )
    long_leg, short_leg = out["positions"]
    assert long_leg["liquidation_price"] == "19700"  # Bybit article example
    assert short_leg["liquidation_price"] == "1019900"  # 20000 + (1000000 − 100)
    out = calc(
        {
            "venue": "binance",
            "wallet_balance": "0",
            "positions": [
                {
                    "symbol": "BTCUSDT",
                    "side": "long",
                    "qty": "1",
                    "entry_price": "100",
                    "leverage": 1,
                    "margin_mode": "isolated",
                    "isolated_margin": "200",
                }
            ],
        }
    )
    assert out["positions"][0]["liquidation_price"] is None


BAD_INPUTS = [
    ("{not json", "not valid JSON"),
    ("[]", "input: expected a JSON object"),
    ('{"venue": "kraken", "wallet_balance": "1"}', "input.venue: 'kraken' is not valid"),
    ('{"venue": "binance"}', "input.wallet_balance: missing"),
    ('{"venue": "binance", "wallet_balance": "1", "extra": 1}', "unknown field 'extra'"),
    (
        '{"venue": "binance", "wallet_balance": "1", "positions": [{"symbol": "BTCUSDT", '
        '"side": "long", "qty": "-1", "entry_price": "1", "leverage": 1, "margin_mode": "cross"}]}',
        "positions[0].qty: -1 is not allowed; expected greater than zero",
    ),
    (
        '{"venue": "binance", "wallet_balance": "1", "positions": [{"symbol": "BTCUSDT", '
        '"side": "long", "qty": "1", "entry_price": "1", "leverage": 1, "margin_mode": "cross", '
        '"isolated_margin": "5"}]}',
        "positions[0].isolated_margin: a cross position has no",
    ),
    (
        '{"venue": "binance", "wallet_balance": "1", "positions": [{"symbol": "BTCUSDT", '
        '"side": "up", "qty": "1", "entry_price": "1", "leverage": 1, "margin_mode": "cross"}]}',
        "positions[0].side: 'up' is not valid; expected one of long, short",
    ),
    (
        '{"venue": "binance", "wallet_balance": "1", "positions": [{"symbol": "BTCUSDT", '
        '"side": "long", "qty": "1", "entry_price": "1", "margin_mode": "cross"}]}',
        "positions[0].leverage: missing",
    ),
    (
        '{"venue": "bybit", "wallet_balance": "1", "positions": [{"symbol": "BTCUSDT", '
        '"side": "long", "qty": "1", "entry_price": "1", "leverage": 1, "margin_mode": "cross"}]}',
        "no bundled maintenance tiers for bybit BTCUSDT",
    ),
    (
        '{"venue": "binance", "wallet_balance": "1", "positions": ['
        '{"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry_price": "1", "leverage": 1, '
        '"margin_mode": "cross"}, {"symbol": "BTCUSDT", "side": "short", "qty": "1", '
        '"entry_price": "1", "leverage": 1, "margin_mode": "cross"}]}',
        "positions[1]: BTCUSDT already has a both position",
    ),
    ('{"venue": "binance", "wallet_balance": "NaN"}', "not a finite number"),
    ('{"venue": "binance", "wallet_balance": 1.5e400}', "1.5E+400 is out of range"),
    ('{"venue": "binance", "wallet_balance": "0.0000000000000000001"}', "is out of range"),
]


@pytest.mark.parametrize(("text", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_clear_line(text: str, message: str) -> None:
    result = run("margin", stdin=text)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("margin", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def _tiered(tiers: list[dict]) -> str:
    import json

    return json.dumps(
        {
            "venue": "binance",
            "wallet_balance": "1000",
            "positions": [
                {"symbol": "XUSDT", "side": "long", "qty": "1", "entry_price": "10000",
                 "leverage": "10", "margin_mode": "cross", "tiers": tiers}
            ],
        }
    )  # fmt: skip


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (
            [
                {"notional_floor": "0", "notional_cap": "50000", "maint_margin_rate": "0.01"},
                {"notional_floor": "0", "notional_cap": None, "maint_margin_rate": "0.5"},
            ],
            "tiers[1].notional_floor: 0 is not above the previous tier's 0",
        ),
        (
            [
                {"notional_floor": "0", "notional_cap": "60000", "maint_margin_rate": "0.01"},
                {"notional_floor": "50000", "maint_margin_rate": "0.02", "maint_amount": "500"},
            ],
            "tiers[0].notional_cap: 60000 must equal the next tier's notional_floor 50000",
        ),
        (
            [{"notional_floor": "0", "maint_margin_rate": "0.01", "maint_amount": "5000"}],
            "tiers[0].maint_amount: 5000 exceeds notional_floor x maint_margin_rate",
        ),
    ],
)
def test_the_calculator_refuses_a_tier_table_no_exchange_would_publish(
    tiers: list[dict], message: str
) -> None:
    from bot.calculator import calculate

    with pytest.raises(InputError) as error:
        calculate(_tiered(tiers))
    assert message in str(error.value)


def test_the_calculator_refuses_a_negative_maintenance_margin() -> None:
    from bot.calculator import calculate

    document = (
        '{"venue": "binance", "wallet_balance": "1000", "positions": [{"symbol": "XUSDT", '
        '"side": "long", "qty": "1", "entry_price": "10000", "leverage": "10", '
        '"margin_mode": "cross", "maint_margin_rate": "0.01", "maint_amount": "500"}]}'
    )
    with pytest.raises(InputError, match="the maintenance margin would be negative"):
        calculate(document)


def test_the_calculator_refuses_deep_nesting_in_one_line() -> None:
    result = subprocess.run(
        [MARGINBOT, "margin", "-"],
        input="[" * 100_000,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr


def test_the_calculator_stamps_the_cross_ledger_once_not_per_position(monkeypatch) -> None:
    """Loading n positions renewed every cross stamp n times (quadratic: 32k positions took
    19 s); now once."""
    import json

    from bot.calculator import calculate
    from bot.core.ledger.position_index import PositionIndex

    calls: list[int] = []
    original = PositionIndex._ledgers_changed
    monkeypatch.setattr(
        PositionIndex,
        "_ledger_changed",
        lambda *_: calls.append(1),
    )

    def counted(self: PositionIndex, symbols: list[str]) -> None:
        calls.append(len(symbols))
        original(self, symbols)

    monkeypatch.setattr(PositionIndex, "_ledgers_changed", counted)
    positions = [
        {"symbol": f"S{i}USDT", "side": "long", "qty": "1", "entry_price": "100",
         "leverage": "10", "margin_mode": "cross", "maint_margin_rate": "0.01"}
        for i in range(500)
    ]  # fmt: skip
    out = json.loads(
        calculate(
            json.dumps({"venue": "binance", "wallet_balance": "100000", "positions": positions})
        )
    )
    assert len(out["positions"]) == 500
    assert calls == [500]
