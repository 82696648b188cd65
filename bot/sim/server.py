"""The simulator server: websocket streams and REST on one loopback port (aiohttp).

It plays a `Source` (scenario or recorded session) into a `Hub`, serves each connection the
topics it subscribed to, and applies the `FaultPlan` per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import structlog
from aiohttp import WSMsgType, web

from bot.core.prices import PriceBoard
from bot.errors import MarginbotError
from bot.feeds.pipeline import FramePipeline
from bot.sim.faults import Fault, FaultPlan
from bot.sim.hub import Hub, Subscriber
from bot.sim.rest import RestApi
from bot.sim.sources import Source
from bot.venues.spec import BINANCE, SPECS, FeedRoute

log = structlog.get_logger("marginbot.sim")


@dataclass(frozen=True, slots=True)
class WsPath:
    """What a websocket path of the simulator serves, as the real host serves it."""

    venue: str
    endpoint: str = ""  # Binance: "public" or "market" (bot/venues/spec.py routes streams)
    raw: bool = False  # Binance ws mode: payloads without the `{"stream","data"}` envelope
    retired: bool = False  # accepted and acknowledged, but no data (Binance's legacy root)


# Binance USDⓈ-M since the 2026 base URL split (legacy root retired 2026-04-23): /public and
# /market, each in stream mode (`/stream?streams=a/b` or SUBSCRIBE) and ws mode (`/ws/a/b` or
# SUBSCRIBE); a stream asked for on the wrong one is not served. The legacy `/stream` and
# `/ws` still complete the handshake and then send nothing, as reported of the real host.
WS_PATHS: dict[str, WsPath] = {
    **{
        path.format(endpoint=endpoint): WsPath("binance", endpoint, raw=path.endswith("ws"))
        for endpoint in ("public", "market")
        for path in ("/{endpoint}/stream", "/{endpoint}/ws")
    },
    **{
        f"/{endpoint}/ws/{{streams:.+}}": WsPath("binance", endpoint, raw=True)
        for endpoint in ("public", "market")
    },
    "/stream": WsPath("binance", retired=True),
    "/ws": WsPath("binance", raw=True, retired=True),
    "/ws/{streams:.+}": WsPath("binance", raw=True, retired=True),
    "/v5/public/linear": WsPath("bybit"),
    "/ws/v5/public": WsPath("okx"),
}
RATE_LIMIT_FRAMES = {
    "binance": '{"code":-1003,"msg":"Too many requests; current limit is 10 messages per second."}',
    "bybit": '{"success":false,"ret_msg":"Too many requests","op":"subscribe"}',
    # OKX websocket error 60014 "Requests too frequent".
    "okx": '{"event":"error","code":"60014","msg":"Requests too frequent."}',
}


@dataclass
class SimStats:
    connections: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    subscribe_requests: Counter[str] = field(default_factory=Counter)
    app_pings: int = 0
    faults_applied: Counter[str] = field(default_factory=Counter)


class Simulator:
    def __init__(
        self,
        source: Source,
        *,
        faults: FaultPlan | None = None,
        speed: float = 1.0,
        loop: bool = False,
        wait_for_subscriber: bool = False,
        start_delay_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sim-key",
        api_secret: str = "sim-secret",  # noqa: S107 — the simulator's documented test secret
        api_passphrase: str = "sim-passphrase",  # noqa: S107 — likewise (OKX)
    ) -> None:
        self.source = source
        self.faults = faults or FaultPlan()
        self.speed = speed
        self.loop = loop
        self.wait_for_subscriber = wait_for_subscriber
        self.start_delay_s = start_delay_s
        self.host = host
        self.port = port
        self.hub = Hub()
        self.board = PriceBoard()
        self.stats = SimStats()
        self.rest = RestApi(self.board, api_key, api_secret, passphrase=api_passphrase)
        self.finished = asyncio.Event()
        self._pipeline = FramePipeline()
        for venue in ("binance", "bybit", "okx"):
            self._pipeline.connect(venue, venue)
        self._books = {
            "binance": self.rest.exchange.engine,
            "bybit": self.rest.bybit.engine,
            "okx": self.rest.okx.engine,
        }
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sockets: set[web.WebSocketResponse] = set()
        self._started = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    def base_url(self, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def routes(self, venue: str, symbols: list[str]) -> list[FeedRoute]:
        """The connections a feed of `venue` keeps to this simulator for `symbols`."""
        return SPECS[venue].routes("sim", symbols, self.base_url("ws"))

    def route(self, venue: str, symbols: list[str], endpoint: str = "") -> FeedRoute:
        return next(r for r in self.routes(venue, symbols) if r.endpoint == endpoint)

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.log_requests])
        app.add_routes(
            [web.get(path, self._websocket_for(where)) for path, where in WS_PATHS.items()]
        )
        app.add_routes(self.rest.routes())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._started = time.monotonic()
        server = site._server  # aiohttp keeps the bound socket here
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._spawn(self._play(), "sim-playback")
        log.info("sim_started", url=self.base_url())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- playback ------------------------------------------------------------------------------

    async def _play(self) -> None:
        while self.wait_for_subscriber and not any(s.topics for s in self.hub.subscribers):
            await asyncio.sleep(0.01)  # a demo starts its story when someone listens
        if self.start_delay_s > 0:
            await asyncio.sleep(self.start_delay_s)
        while True:
            started = time.monotonic()
            for item in self.source.frames(int(time.time() * 1000), self.speed):
                due = started + item.t_s / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.publish(item.venue, item.topic, item.text)
            if not self.loop:
                break
        self.finished.set()
        log.info("sim_source_finished")

    def publish(self, venue: str, topic: str, text: str) -> None:
        for event in self._pipeline.frame(venue, text, time.time_ns()):
            self.board.apply(event)
            engine = self._books.get(venue)
            if engine is None:
                continue
            # A scenario may send bad prices on purpose: the venue's books skip them, the
            # frame still goes out for the client under test to refuse.
            with contextlib.suppress(MarginbotError):
                engine.step(event)
        self.hub.publish(venue, topic, text)

    # -- websocket connections -----------------------------------------------------------------

    def _websocket_for(self, where: WsPath) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._websocket(request, where)

        return handler

    async def _websocket(self, request: web.Request, where: WsPath) -> web.StreamResponse:
        venue = where.venue
        key = f"{venue}.{where.endpoint}" if where.endpoint else venue
        self.stats.connections[venue] += 1
        if key != venue:
            self.stats.connections[key] += 1
        number = self.stats.connections[key]
        refusal = self.faults.refuses(venue, number, where.endpoint)
        if refusal is not None:
            self.stats.refused += 1
            self.stats.faults_applied["refuse_429"] += 1
            return web.json_response(
                {"code": -1003, "msg": "Too many requests."},
                status=429,
                headers={"Retry-After": str(refusal.retry_after)},
            )
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=2**20)
        await ws.prepare(request)
        self._sockets.add(ws)
        subscriber = Subscriber(venue, number, where.endpoint, where.raw)
        self.hub.add(subscriber)
        streams = request.query.get("streams") or request.match_info.get("streams")
        if venue == "binance" and streams:
            self._subscribe(subscriber, streams.split("/"))
        if where.retired:
            log.warning("sim_retired_endpoint", path=request.path, serves="nothing")
        faults = self.faults.for_connection(venue, number, where.endpoint)
        writer = self._spawn(self._deliver(ws, request, subscriber, faults), f"sim-{key}-out")
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_client_message(ws, subscriber, message.data)
        finally:
            writer.cancel()
            self.hub.remove(subscriber)
            self._sockets.discard(ws)
        return ws

    async def _on_client_message(
        self, ws: web.WebSocketResponse, subscriber: Subscriber, text: str
    ) -> None:
        if text == "ping":
            self.stats.app_pings += 1
            await ws.send_str("pong")
            return
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        if subscriber.venue == "binance":
            method, params = message.get("method"), message.get("params") or []
            if method == "SUBSCRIBE":
                self._subscribe(subscriber, list(params))
            elif method == "UNSUBSCRIBE":
                subscriber.topics.difference_update(params)
            await ws.send_str(orjson.dumps({"result": None, "id": message.get("id")}).decode())
            return
        if subscriber.venue == "okx":
            await self._on_okx_message(ws, subscriber, message)
            return
        op = message.get("op")
        reply: dict[str, Any] = {
            "success": True,
            "ret_msg": "",
            "conn_id": f"sim-{id(ws)}",
            "req_id": message.get("req_id", ""),
            "op": op,
        }
        if op == "ping":
            self.stats.app_pings += 1
            reply["ret_msg"] = "pong"
        elif op == "subscribe":
            self.stats.subscribe_requests[f"bybit.{subscriber.number}"] += 1
            await ws.send_str(orjson.dumps(reply).decode())
            self.hub.subscribe(subscriber, list(message.get("args") or []))
            return
        elif op == "unsubscribe":
            subscriber.topics.difference_update(message.get("args") or [])
        await ws.send_str(orjson.dumps(reply).decode())

    async def _on_okx_message(
        self, ws: web.WebSocketResponse, subscriber: Subscriber, message: dict[str, Any]
    ) -> None:
        """OKX v5: `{"op": "subscribe", "args": [{"channel", "instId"}]}` is answered with one
        `{"event": "subscribe", "arg": ..., "connId": ...}` per argument (OKX API docs,
        "WebSocket - Subscribe"); a bad request with `{"event": "error", ...}`."""
        op = message.get("op")
        args = message.get("args")
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            error = {"event": "error", "code": "60012", "msg": "Invalid request", "connId": "sim"}
            await ws.send_str(orjson.dumps(error).decode())
            return
        self.stats.subscribe_requests[f"okx.{subscriber.number}"] += 1
        topics = []
        for arg in args:
            if isinstance(arg, dict):
                topics.append(f"{arg.get('channel')}:{arg.get('instId')}")
                reply = {"event": op, "arg": arg, "connId": f"sim-{id(ws)}"}
                await ws.send_str(orjson.dumps(reply).decode())
        if op == "subscribe":
            self.hub.subscribe(subscriber, topics)
        else:
            subscriber.topics.difference_update(topics)

    def _subscribe(self, subscriber: Subscriber, topics: list[str]) -> None:
        """Binance serves each stream on one endpoint only, and nothing on the retired root:
        the rest is acknowledged and never sent, as the real host does."""
        where = f"{subscriber.venue}.{subscriber.endpoint}" if subscriber.endpoint else "binance"
        self.stats.subscribe_requests[f"{where}.{subscriber.number}"] += 1
        served = [t for t in topics if BINANCE.endpoint_of(t) == subscriber.endpoint]
        subscriber.unserved.update(set(topics) - set(served))
        self.hub.subscribe(subscriber, served)

    async def _deliver(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        subscriber: Subscriber,
        faults: list[Fault],
    ) -> None:
        opened = time.monotonic()
        # Every fault as "seconds after this connection opened", whether it was given that way
        # or by schedule (seconds after the simulator started).
        faults = [
            replace(f, after_s=max(0.0, f.at_s - (opened - self._started)))
            if f.at_s is not None
            else f
            for f in faults
        ]
        for fault in faults:
            if fault.action in ("drop", "close_after", "rate_limit_frame"):
                self._spawn(self._end_later(ws, request, subscriber.venue, fault), "sim-fault-end")
        frame_faults = {
            f.action: f.count
            for f in faults
            if f.action in ("malformed", "truncate", "duplicate", "reorder")
        }
        stalls = [f for f in faults if f.action == "stall"]
        held: str | None = None
        while not ws.closed:
            text = await subscriber.queue.get()
            elapsed = time.monotonic() - opened
            if any(
                f.after_s <= elapsed and (f.duration_s == 0 or elapsed < f.after_s + f.duration_s)
                for f in stalls
            ):
                continue  # a stalled venue: connected and silent
            active = {
                a
                for a, n in frame_faults.items()
                if n > 0 and self._fault(faults, a).after_s <= elapsed
            }
            outgoing = [text]
            if "malformed" in active:
                outgoing = ['{"stream": <malformed frame from the simulator>']
            elif "truncate" in active:
                outgoing = [text[: len(text) // 2]]
            elif "duplicate" in active:
                outgoing = [text, text]
            elif "reorder" in active and held is None:
                held = text
                outgoing = []
            if held is not None and outgoing and "reorder" in active:
                outgoing.append(held)
                held = None
            for action in active:
                if action != "reorder" or held is None:
                    frame_faults[action] -= 1
                    self.stats.faults_applied[action] += 1
            for frame in outgoing:
                await ws.send_str(_unwrapped(frame) if subscriber.raw else frame)

    @staticmethod
    def _fault(faults: list[Fault], action: str) -> Fault:
        return next(f for f in faults if f.action == action)

    async def _end_later(
        self, ws: web.WebSocketResponse, request: web.Request, venue: str, fault: Fault
    ) -> None:
        await asyncio.sleep(fault.after_s)
        self.stats.faults_applied[fault.action] += 1
        if fault.action == "rate_limit_frame":
            await ws.send_str(RATE_LIMIT_FRAMES[venue])
            await ws.close(message=b"rate limited")
        elif fault.action == "drop" and request.transport is not None:
            request.transport.abort()  # the TCP connection vanishes: no close frame
        else:
            await ws.close(message=b"simulated scheduled close")


def _unwrapped(frame: str) -> str:
    """A combined-stream frame as ws mode sends it: the payload alone."""
    try:
        document = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return frame  # a fault's malformed frame goes out as it is
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        return orjson.dumps(document["data"]).decode()
    return frame
