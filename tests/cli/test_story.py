"""The ledger story tells the classic story: isolated liquidated first, cross later."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli.story import StorySettings, load_settings, run_story
from bot.errors import ConfigError
from tests.conftest import ROOT


def test_story_story_from_the_shipped_config() -> None:
    settings = load_settings(ROOT / "config/story.toml")
    assert settings == StorySettings()  # the file states the built-in classic example
    out = io.StringIO()
    assert run_story(out, settings) == 0
    text = out.getvalue()
    assert "A isolated  backed by 1,000.00 USDT isolated margin: liquidation price 9,036.14" in text
    assert "B cross     backed by the whole cross wallet: liquidation price 8,037.15" in text
    # Liquidated at the first 10 USDT tick at or beyond the price, never before.
    assert "A isolated liquidated at mark 9,030.00" in text
    assert "B cross liquidated at mark 8,030.00" in text
    assert text.index("A isolated liquidated") < text.index("B cross liquidated")
    assert "A isolated  was liquidated; it keeps 995.00 of its 2,000.00 USDT." in text
    assert "B cross     was liquidated; it keeps 0.00 of its 2,000.00 USDT." in text


def test_story_with_other_numbers(tmp_path: Path) -> None:
    path = tmp_path / "story.toml"
    path.write_text('leverage = "5"\nwallet_balance = "2100"\ntaker_fee = "0.0002"\n')
    out = io.StringIO()
    run_story(out, load_settings(path))
    # 5x isolated: margin 2,000; LP = (2000 − 10000) / (0.004 − 1).
    assert "liquidation price 8,032.13" in out.getvalue()
    assert load_settings(path).leverage == Decimal(5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('levrage = "5"', "unknown key 'levrage'"),
        ('leverage = "-5"', "leverage: must be greater than zero"),
        ('venue = "kraken"', "'kraken' is not valid; expected one of binance, bybit"),
        ("leverage = [", "not valid TOML"),
    ],
)
def test_bad_story_config_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "story.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)
