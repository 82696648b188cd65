"""Headless Chromium driven over the DevTools protocol, for the web view's tests and screenshots.

Debian's `chromium` package (not a browser a tool downloads): `make setup` installs it when
missing. Only what the tests need: open a page, evaluate JavaScript, wait for a condition, take
a screenshot. The protocol goes over a websocket, with the `websockets` library marginbot
already uses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
import websockets

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class BrowserError(Exception):
    pass


class Chromium:
    def __init__(self, width: int = 1440, height: int = 1000, binary: str | None = None) -> None:
        self.binary = binary or chromium_binary()
        if self.binary is None:
            raise BrowserError("no chromium: install Debian's package (apt-get install chromium)")
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []  # the page's console errors and exceptions

    async def __aenter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="marginbot-chromium-")
        flags = [
            "--headless",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            f"--window-size={self.width},{self.height}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
        ]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to sandbox as root
        assert self.binary is not None
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            *flags,
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self._process.returncode is not None or time.monotonic() > deadline:
                await self._close_process()
                raise BrowserError(f"{self.binary} did not start its DevTools endpoint")
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/json/list") as answer,
        ):
            targets = await answer.json()
        page = next(t for t in targets if t.get("type") == "page")
        self._socket = await websockets.connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20)
        self._reader = asyncio.create_task(self._read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self._socket.close()
        await self._close_process()

    async def _close_process(self) -> None:
        if self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _read(self) -> None:
        async for raw in self._socket:
            message = orjson.loads(raw)
            waiting = self._waiting.pop(message.get("id", -1), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.console.append(str(details.get("exception", {}).get("description", details)))
            elif message.get("method") == "Runtime.consoleAPICalled":
                params = message["params"]
                if params.get("type") == "error":
                    self.console.append(" ".join(str(a.get("value")) for a in params["args"]))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self._socket.send(
            orjson.dumps({"id": number, "method": method, "params": params}).decode()
        )
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """The expression's value once it is truthy; BrowserError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"still false after {timeout} s: {expression} (console: {self.console})"
                )
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path | None = None) -> bytes:
        answer = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = base64.b64decode(answer["data"])
        if path is not None:
            path.write_bytes(png)
        return png


_PIXELS = """
(() => {
  const [r, g, b] = %s;
  let count = 0;
  for (const canvas of document.querySelectorAll(%s)) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) < %d && Math.abs(data[i + 1] - g) < %d
          && Math.abs(data[i + 2] - b) < %d && data[i + 3] > 200) count++;
    }
  }
  return count;
})()
"""


def coloured_pixels(canvases: str, rgb: tuple[int, int, int], tolerance: int = 14) -> str:
    """A page expression: how many opaque pixels of about this colour the canvases matched by
    the CSS selector `canvases` hold — a line drawn, not just a canvas on the page."""
    return _PIXELS % (list(rgb), orjson.dumps(canvases).decode(), tolerance, tolerance, tolerance)
