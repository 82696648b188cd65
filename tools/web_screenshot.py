"""docs/web-view.png: the web view during `make demo`, just before the isolated account is
liquidated (both positions open, the mark closing on the isolated liquidation price).

    .venv/bin/python -m tools.web_screenshot [OUT.png]

Runs the demo as a user would, reads the page's address from what it prints, watches
/api/view, and photographs the page in headless Chromium when the isolated position is within
2.5 % of its liquidation price by the mark.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp

from tools.chromium import Chromium

ROOT = Path(__file__).resolve().parent.parent
NEAR = 0.025


async def _address(demo: asyncio.subprocess.Process) -> str:
    assert demo.stdout is not None
    while line := (await demo.stdout.readline()).decode():
        sys.stdout.write(line)
        found = re.search(r"web view: open (\S+)", line)
        if found:
            return found.group(1)
    raise SystemExit("the demo ended without printing the web view's address")


async def _near_liquidation(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url + "api/view") as answer:
                view = await answer.json()
            positions = [p for a in view["accounts"] for p in a["positions"]]
            isolated = [p for p in positions if p["margin_mode"] == "isolated"]
            distance = isolated[0]["distance_by_mark_value"] if isolated else None
            if len(positions) == 2 and distance is not None and distance < NEAR:
                return
            await asyncio.sleep(0.05)


async def main(out: Path) -> None:
    demo = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv/bin/marginbot"), "demo", "--config", "config/demo.toml",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = await _address(demo)
        async with Chromium(width=1440, height=1050) as browser:
            await browser.goto(url)
            await asyncio.wait_for(_near_liquidation(url), 120)
            await asyncio.sleep(0.6)  # one more refresh reaches the page
            await browser.screenshot(out)
        print(f"wrote {out}")
    finally:
        demo.terminate()
        await demo.wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/web-view.png"))
