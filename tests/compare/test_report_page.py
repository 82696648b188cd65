"""The compare report as a reader sees it: opened from disk in headless Chromium, with no
network, its three charts drawn (lines as pixels, not just canvases) and the liquidation
marked."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli.compare import compare
from bot.compare.report import render
from bot.compare.whatif import Scenario
from bot.session.importers import import_scenario
from tests.conftest import ROOT
from tools.chromium import Chromium, chromium_binary, coloured_pixels

if chromium_binary() is None:
    if os.environ.get("CI"):
        pytest.fail("CI needs chromium for the report's test (make setup installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

MARK, ISOLATED, CROSS = (245, 166, 35), (255, 92, 92), (176, 132, 255)


async def test_the_report_draws_its_charts_offline(tmp_path: Path) -> None:
    session = tmp_path / "crash.jsonl.gz"
    import_scenario(ROOT / "config/scenarios/crash.toml", session)
    result = compare(session, Scenario("BTCUSDT", "long", Decimal(1), Decimal(10), Decimal(2000)))
    page = tmp_path / "report.html"
    page.write_text(render(result, session.name), encoding="utf-8")
    async with Chromium(width=1280, height=2200) as browser:
        await browser.goto(page.as_uri())
        state = await browser.wait_for("window.report && window.report.ready && window.report")
        assert state["markers"] == 1  # the isolated liquidation, on the mark
        assert state["points"] > 100
        verdict = await browser.evaluate("document.getElementById('verdict').textContent")
        assert verdict.startswith("Isolated at 10x was liquidated at mark")
        # Drawn: the mark in the price chart, each mode's line in the equity and ratio charts.
        assert await browser.evaluate(coloured_pixels("#prices canvas", MARK)) > 100
        assert (
            await browser.evaluate(coloured_pixels("#prices canvas", ISOLATED)) > 50
        )  # its liquidation
        for chart in ("equity", "ratio"):
            assert await browser.evaluate(coloured_pixels(f"#{chart} canvas", ISOLATED)) > 50, chart
            assert await browser.evaluate(coloured_pixels(f"#{chart} canvas", CROSS)) > 50, chart
        assert browser.console == []
