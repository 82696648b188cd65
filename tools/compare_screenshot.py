"""docs/compare-report.png: the `marginbot compare` report of the demo's market (the shipped
Binance session, then the scripted crash), as `make demo`'s accounts hold it.

    .venv/bin/python -m tools.compare_screenshot [OUT.png]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from bot.cli.compare import compare
from bot.compare.report import render
from bot.compare.whatif import Scenario
from bot.session.importers import write_source
from bot.sim.scenario import load_scenario
from bot.sim.sources import SessionSource, SessionThenScenario
from tools.chromium import Chromium

ROOT = Path(__file__).resolve().parent.parent


def demo_session(path: Path) -> None:
    source = SessionThenScenario(
        SessionSource(ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz", ("binance",)),
        load_scenario(ROOT / "config/scenarios/crash.toml"),
    )
    write_source(source, path, ("BTCUSDT",), {"made_by": "tools/compare_screenshot.py"})


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        session = Path(folder) / "demo-market.jsonl.gz"
        demo_session(session)
        scenario = Scenario(
            "BTCUSDT", "long", Decimal("0.355"), Decimal(10), Decimal(2000),
            isolated_margin=Decimal(1000), grid=(Decimal(5), Decimal(20)),
        )  # fmt: skip
        page = Path(folder) / "report.html"
        page.write_text(render(compare(session, scenario), session.name), encoding="utf-8")
        async with Chromium(width=1280, height=1500) as browser:
            await browser.goto(page.as_uri())
            await browser.wait_for("window.report && window.report.ready")
            await asyncio.sleep(0.3)
            await browser.screenshot(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/compare-report.png"))
