"""The page as a trader sees it, in Debian's headless Chromium: both accounts, the positions
with their liquidation prices, the chart drawn and moving, and nothing broken in the console."""

from __future__ import annotations

import os

import pytest

from bot.core.ledger.figures import account_figures
from bot.daemon import Daemon
from bot.display import price
from tools.chromium import Chromium, chromium_binary, coloured_pixels

if chromium_binary() is None:
    if os.environ.get("CI"):
        pytest.fail("CI needs chromium for the web view's test (make setup installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

KEY = "binance:BTCUSDT"
MARK_ORANGE = (245, 166, 35)
LIQUIDATION_RED = (255, 92, 92)
CHART = f'.chart-box[data-key="{KEY}"] canvas'


def _text(selector: str) -> str:
    return f"document.querySelector({selector!r})?.textContent ?? ''"


async def test_the_page_shows_accounts_positions_liquidation_and_a_moving_chart(
    watched: Daemon,
) -> None:
    assert watched.web_url is not None
    iso = account_figures(watched.engine.desks["iso"].account).positions[0]
    assert iso.liquidation_price is not None
    async with Chromium() as browser:
        await browser.goto(watched.web_url)
        await browser.wait_for("document.querySelector('#connection').textContent === 'live'")
        # Both accounts, each with its position and liquidation price.
        for name in ("iso", "crs"):
            await browser.wait_for(f"!!document.querySelector('tr.position[data-account={name}]')")
        iso_row = 'tr.position[data-account="iso"] td[data-field="liquidation"]'
        assert await browser.evaluate(_text(iso_row)) == price(iso.liquidation_price)
        crs_row = 'tr.position[data-account="crs"] td[data-field="liquidation"]'
        assert (await browser.evaluate(_text(crs_row))).replace(",", "").replace(".", "").isdigit()
        wallet = '.account[data-account="crs"] [data-figure="wallet"] span:last-child'
        assert await browser.evaluate(_text(wallet))
        # The liquidation prices are drawn across the chart, one line per position.
        lines = await browser.evaluate(f"window.marginbot.liquidationLines({KEY!r})")
        assert sorted(line["title"] for line in lines) == ["liq crs", "liq iso"]
        iso_line = next(line for line in lines if line["title"] == "liq iso")
        assert iso_line["price"] == pytest.approx(float(iso.liquidation_price))
        # Drawn: the mark's orange line and the liquidation's red dashes are on the canvas.
        orange = await browser.wait_for(coloured_pixels(CHART, MARK_ORANGE, 12))
        assert orange > 50
        assert await browser.evaluate(coloured_pixels(CHART, LIQUIDATION_RED, 12)) > 50
        # Moving: new points reach the chart as the simulator's prices move.
        points = await browser.evaluate(f"window.marginbot.points({KEY!r})")
        updates = await browser.evaluate("window.marginbot.updates")
        await browser.wait_for(f"window.marginbot.points({KEY!r}) >= {points + 2}", timeout=15)
        assert await browser.evaluate("window.marginbot.updates") > updates
        assert browser.console == []
