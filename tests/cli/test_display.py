"""Figures as a trader reads them: a price keeps five significant digits, money two places."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.display import money, percent, price


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("25422.8", "25,422.80"),
        ("1073.85", "1,073.85"),
        ("64.59947917", "64.599"),
        ("0.45477514", "0.45478"),
        ("0.00025265", "0.00025265"),
        ("0", "0.00"),
        (None, "-"),
        ("bad", "bad"),
    ],
)
def test_prices_keep_five_significant_digits(value: str | None, shown: str) -> None:
    assert price(value) == shown


def test_money_and_percent() -> None:
    assert money(Decimal("1234.567")) == "1,234.57"
    assert percent("0.0438") == "4.38 %"
