"""The page as a trader sees it, in Debian's headless Chromium: both accounts, the positions
with their liquidation prices, the chart drawn and moving, and nothing broken in the console."""

from __future__ import annotations

import os

import pytest

from bot.core.ledger.figures import account_figures
from bot.daemon import Daemon
from tools.chromium import Chromium, chromium_binary

if chromium_binary() is None:
    if os.environ.get("CI"):
        pytest.fail("CI needs chromium for the web view's test (make setup installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

KEY = "binance:BTCUSDT"
# Pixels of a colour on the chart's canvases: drawn lines, not just elements on the page.
COLOURED_PIXELS = """
(() => {
  const [r, g, b] = %s;
  let count = 0;
  for (const canvas of document.querySelectorAll('.chart-box[data-key="%s"] canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12
          && Math.abs(data[i + 2] - b) < 12 && data[i + 3] > 200) count++;
    }
  }
  return count;
})()
"""
MARK_ORANGE = "[245, 166, 35]"
LIQUIDATION_RED = "[255, 92, 92]"


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
        assert await browser.evaluate(_text(iso_row)) == f"{iso.liquidation_price:,.2f}"
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
        orange = await browser.wait_for(COLOURED_PIXELS % (MARK_ORANGE, KEY))
        assert orange > 50
        assert await browser.evaluate(COLOURED_PIXELS % (LIQUIDATION_RED, KEY)) > 50
        # Moving: new points reach the chart as the simulator's prices move.
        points = await browser.evaluate(f"window.marginbot.points({KEY!r})")
        updates = await browser.evaluate("window.marginbot.updates")
        await browser.wait_for(f"window.marginbot.points({KEY!r}) >= {points + 2}", timeout=15)
        assert await browser.evaluate("window.marginbot.updates") > updates
        assert browser.console == []
