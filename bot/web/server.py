"""The daemon's HTTP server (aiohttp): Prometheus' /metrics and /healthz, and the live page.

    GET /              the page (static/index.html)            [web]
    GET /static/...    its script, style and chart library      [web]
    GET /api/view      everything the page shows, as JSON       [web]
    GET /api/stream    the same as server-sent events: one `snapshot`, then an `update` at
                       most every `refresh_s` when something changed                 [web]
    GET /metrics       Prometheus text format                   [metrics]
    GET /healthz       200 ok, or 503 and the problems          [metrics]

[web] and [metrics] on the same host and port share one server; otherwise each has its own.
Everything is read-only: the page cannot send a command. On a loopback address a request must
name a loopback host, so that a web site the trader visits cannot read the page through a DNS
name rebound to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web

from bot import __version__
from bot.config import MetricsConfig, WebConfig
from bot.metrics import CONTENT_TYPE, Watched, healthz, metrics_registry, metrics_text
from bot.web.view import accounts_view, prices_view

log = structlog.get_logger("marginbot.web")
STATIC = Path(__file__).resolve().parent / "static"
MAX_VIEWERS = 32  # open event streams; one more is told to come back later
KEEPALIVE_S = 15.0  # a comment line, so that proxies and browsers keep the stream open
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class LiveView:
    """What the page sees of the daemon, computed at most once per `refresh_s` however many
    browsers look (the figures of every account are not free)."""

    def __init__(self, daemon: Watched, settings: WebConfig) -> None:
        self.daemon = daemon
        self.refresh_s = settings.refresh_s
        self._cached: tuple[tuple[int, int], float, dict[str, Any]] | None = None

    def version(self) -> tuple[int, int]:
        return (self.daemon.history.seq, self.daemon.steps)

    def figures(self) -> dict[str, Any]:
        """Accounts, positions, prices and feeds now (cached for `refresh_s`)."""
        now = time.monotonic()
        version = self.version()
        cached = self._cached
        if cached is not None and (cached[0] == version or now - cached[1] < self.refresh_s):
            return cached[2]
        daemon = self.daemon
        document = {
            "version": __version__,
            "accounts": accounts_view(daemon.kernel),
            "prices": prices_view(daemon.kernel),
            "feeds": [
                {
                    "name": feed.route.label,
                    "healthy": feed.health() is None,
                    "problem": feed.health(),
                    "frames": feed.stats.frames,
                }
                for feed in daemon.feeds
            ],
            "storage_error": daemon.storage_error,
            "stopping": daemon.stop.is_set(),
        }
        self._cached = (version, now, document)
        return document

    def snapshot(self) -> dict[str, Any]:
        history = self.daemon.history
        return {
            **self.figures(),
            "seq": history.seq,
            "points": history.points_since(0),
            "alerts": history.alerts_since(0),
        }

    def update(self, seq: int) -> dict[str, Any]:
        history = self.daemon.history
        return {
            **self.figures(),
            "seq": history.seq,
            "points": history.points_since(seq),
            "alerts": history.alerts_since(seq),
        }


def _event(name: str, document: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(document) + b"\n\n"


@dataclass
class Address:
    host: str
    port: int
    metrics: bool
    web: bool


class HttpServer:
    """One aiohttp runner per address; `start()` returns the URL of each part it serves."""

    def __init__(
        self, daemon: Watched, metrics: MetricsConfig | None, web_settings: WebConfig | None
    ) -> None:
        self.daemon = daemon
        self.registry = metrics_registry(daemon)
        self.live = LiveView(daemon, web_settings) if web_settings is not None else None
        self.addresses: list[Address] = []
        if metrics is not None:
            self.addresses.append(Address(metrics.host, metrics.port, True, False))
        if web_settings is not None:
            shared = next(
                (
                    a
                    for a in self.addresses
                    if a.host == web_settings.host and a.port == web_settings.port and a.port
                ),
                None,
            )
            if shared is not None:
                shared.web = True
            else:
                self.addresses.append(Address(web_settings.host, web_settings.port, False, True))
        self.runners: list[web.AppRunner] = []
        self.viewers = 0
        self.closing = asyncio.Event()

    # --- the routes -------------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=metrics_text(self.registry), headers={"Content-Type": CONTENT_TYPE}
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        status, text = healthz(self.daemon)
        return web.Response(status=status, text=text)

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _view(self, request: web.Request) -> web.Response:
        assert self.live is not None
        return web.Response(
            body=orjson.dumps(self.live.snapshot()), content_type="application/json"
        )

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        assert self.live is not None
        if self.viewers >= MAX_VIEWERS:
            return web.Response(
                status=503, text=f"{MAX_VIEWERS} viewers already; try again later\n"
            )
        self.viewers += 1
        try:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            live = self.live
            snapshot = live.snapshot()
            await response.write(_event("snapshot", snapshot))
            seq, version = snapshot["seq"], live.version()
            quiet_since = time.monotonic()
            while not self.closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), live.refresh_s)
                now_version = live.version()
                if now_version != version:
                    version = now_version
                    update = live.update(seq)
                    seq = update["seq"]
                    await response.write(_event("update", update))
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > KEEPALIVE_S:
                    await response.write(b": still here\n\n")
                    quiet_since = time.monotonic()
        except ConnectionResetError:
            pass  # the browser left
        finally:
            self.viewers -= 1
        return response

    # --- the server -------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        local = request.transport is not None and _is_loopback(
            str((request.transport.get_extra_info("sockname") or ("",))[0])
        )
        if local and (request.url.host or "").lower() not in LOOPBACK_NAMES:
            raise web.HTTPMisdirectedRequest(
                text="this server answers only requests addressed to localhost\n"
            )
        response = await handler(request)
        response.headers.update(HEADERS)
        return response

    def _app(self, address: Address) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=1024)
        if address.metrics:
            app.router.add_get("/metrics", self._metrics)
            app.router.add_get("/healthz", self._healthz)
        if address.web:
            app.router.add_get("/", self._page)
            app.router.add_get("/api/view", self._view)
            app.router.add_get("/api/stream", self._stream)
            app.router.add_static("/static/", STATIC, follow_symlinks=False)
        return app

    async def start(self) -> dict[str, str]:
        """{"metrics": url, "web": url} for what listens; a port in use is said, not fatal."""
        urls: dict[str, str] = {}
        for address in self.addresses:
            runner = web.AppRunner(
                self._app(address), access_log=None, handle_signals=False, shutdown_timeout=1.0
            )
            await runner.setup()
            site = web.TCPSite(runner, address.host, address.port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                await runner.cleanup()
                parts = " and ".join(
                    p
                    for p, on in (("/metrics", address.metrics), ("the web view", address.web))
                    if on
                )
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                self.daemon.out.write(
                    f"cannot listen on {address.host}:{address.port} ({reason.lower()}); "
                    f"running without {parts}\n"
                )
                log.warning("http_unavailable", host=address.host, port=address.port)
                continue
            self.runners.append(runner)
            port = runner.addresses[0][1]
            host = f"[{address.host}]" if ":" in address.host else address.host
            url = f"http://{host}:{port}"
            if address.metrics:
                urls["metrics"] = url
            if address.web:
                urls["web"] = url + "/"
                if not _is_loopback(address.host):
                    log.warning("web_view_exposed", host=address.host, port=port)
        return urls

    async def stop(self) -> None:
        self.closing.set()
        for runner in self.runners:
            await runner.cleanup()
        self.runners = []
