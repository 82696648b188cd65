"""The websocket shell of a venue feed: connect, subscribe, read, survive.

One `FeedClient` keeps one connection to one venue alive for as long as it runs:
- subscribes after every connect, with a fresh parser (so merged state is rebuilt from the
  venue's snapshot, never from deltas of a previous connection);
- reconnects with capped exponential backoff and full jitter; HTTP 429/418 answers and the
  venues' rate-limit error frames back off much longer (honouring Retry-After) instead of
  failing;
- sends the venue's application pings (Bybit, OKX) on top of websocket pings;
- declares the stream stale when no frame arrives for `stale_after_s`, and recycles the
  connection; reports recovery when data flows again;
- reconnects before the venue's own scheduled disconnect (Binance: 24 h);
- records every frame verbatim, with connect/send/disconnect records, when given a recorder;
- measures feed lag (receive time − exchange time) and estimates clock skew.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from bot.aio import wait_event
from bot.core.feed_events import (
    FeedBackoff,
    FeedConnected,
    FeedDisconnected,
    FeedEvent,
    FeedRecovered,
    FeedStale,
)
from bot.core.market import MarketEvent
from bot.feeds.pipeline import FramePipeline
from bot.venues.spec import FeedRoute, VenueSpec

log = structlog.get_logger("marginbot.feed")

Sink = Callable[[list[MarketEvent | FeedEvent]], None]


class Recorder(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class FeedSettings:
    stale_after_s: float = 15.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    rate_limited_backoff_s: float = 30.0
    rate_limited_backoff_max_s: float = 600.0
    open_timeout_s: float = 10.0
    ping_interval_s: float = 20.0
    stable_after_s: float = 30.0  # a connection this old resets the backoff
    max_connection_age_s: float | None = None  # defaults to the venue's, minus a margin


@dataclass
class FeedStats:
    frames: int = 0
    events: int = 0
    connects: int = 0
    reconnects: int = 0
    stale: int = 0
    rate_limited: int = 0
    last_lag_ms: float | None = None
    connected: bool = False
    _lags: deque[float] = field(default_factory=lambda: deque(maxlen=512))

    def observe_lag(self, lag_ms: float) -> None:
        self.last_lag_ms = lag_ms
        self._lags.append(lag_ms)

    @property
    def clock_skew_ms(self) -> float | None:
        """Estimated local − exchange clock offset: the smallest recent lag.

        Each lag is skew + network and venue latency; the smallest of many is the one with the
        least latency, so it approaches the skew from above.
        """
        return min(self._lags) if self._lags else None

    @property
    def median_lag_ms(self) -> float | None:
        if not self._lags:
            return None
        ordered = sorted(self._lags)
        median: float = ordered[len(ordered) // 2]
        return median


class _Outcome(Exception):
    """Why a connection ended, and whether to reconnect at once."""

    def __init__(self, reason: str, immediate: bool = False, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate
        self.rate_limited = rate_limited


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


class FeedClient:
    def __init__(
        self,
        spec: VenueSpec,
        route: FeedRoute,
        sink: Sink,
        *,
        settings: FeedSettings | None = None,
        recorder: Recorder | None = None,
        pipeline: FramePipeline | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.spec = spec
        self.route = route
        self.url = route.url
        self.topics = list(route.topics)
        self.sink = sink
        self.settings = settings or FeedSettings()
        self.recorder = recorder
        self.pipeline = pipeline or FramePipeline(on_new_error=self._log_new_error)
        self.rng = rng or random.Random()  # noqa: S311 — jitter, not cryptography
        self.clock = clock
        self.stats = FeedStats()
        self._attempt = 0
        self._rate_limited_streak = 0
        self._outage_since: float | None = None
        self.last_data_at: float | None = None  # monotonic time of the last market data
        self._stopping = asyncio.Event()
        self._deadline: asyncio.Timeout | None = None  # the reader's, while it waits for a frame
        self._conn_seq = 0
        self._logged_ignored: set[str] = set()

    # -- public ----------------------------------------------------------------------------------

    def health(self) -> str | None:
        """None when market data flows; else what is wrong, in words."""
        if self.last_data_at is None:
            return f"{self.route.label}: no market data yet from {self.url}"
        silent = time.monotonic() - self.last_data_at
        if silent >= self.settings.stale_after_s:
            return f"{self.route.label}: no market data for {silent:.0f} s (stale)"
        return None

    def stop(self) -> None:
        self._stopping.set()
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time())  # wake the reader now

    async def run(self) -> None:
        """Keep the feed alive until `stop()` or cancellation; never raises for network
        trouble."""
        task = asyncio.current_task()
        while not self._stopping.is_set():
            # Python 3.11's asyncio.timeout can turn a cancellation into a TimeoutError, which a
            # reconnect loop would take for network trouble: a cancelled feed must end.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            delay, rate_limited, reason = await self._connect_once()
            if self._stopping.is_set():
                break
            if delay > 0:
                self._emit(FeedBackoff(self.spec.name, delay, rate_limited, reason, self.clock()))
                log.info(
                    "feed_backoff",
                    venue=self.spec.name,
                    delay_s=round(delay, 3),
                    rate_limited=rate_limited,
                    reason=reason,
                )
                await wait_event(self._stopping, delay)

    # -- one connection ----------------------------------------------------------------------

    async def _connect_once(self) -> tuple[float, bool, str]:
        self._conn_seq += 1
        conn = f"{self.route.label}.{self._conn_seq}"
        s = self.settings
        try:
            ws = await connect(
                self.url,
                open_timeout=s.open_timeout_s,
                ping_interval=s.ping_interval_s,
                ping_timeout=s.ping_interval_s,
                close_timeout=1,
                compression=None,
                proxy=None if _is_loopback(self.url) else True,
                max_size=2**23,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (429, 418):
                return (
                    self._rate_limited_delay(exc.response.headers.get("Retry-After")),
                    True,
                    (f"HTTP {status}"),
                )
            return self._backoff_delay(), False, f"HTTP {status}"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return self._backoff_delay(), False, f"{type(exc).__name__}: {exc}"
        self._rate_limited_streak = 0
        opened = time.monotonic()
        try:
            await self._session(ws, conn, opened)
        except _Outcome as outcome:
            await self._close(ws, conn, outcome.reason)
            return self._delay_after(outcome, opened)
        finally:
            self.stats.connected = False
        return 0.0, False, "stopped"

    def _delay_after(self, outcome: _Outcome, opened: float) -> tuple[float, bool, str]:
        if outcome.immediate:
            return 0.0, False, outcome.reason
        if outcome.rate_limited:
            return self._rate_limited_delay(None), True, outcome.reason
        if time.monotonic() - opened >= self.settings.stable_after_s:
            self._attempt = 0
        return self._backoff_delay(), False, outcome.reason

    async def _session(self, ws: ClientConnection, conn: str, opened: float) -> None:
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self.stats.connected = True
        now = self.clock()
        self._record(
            {"t": "connect", "conn": conn, "ts": now, "venue": self.spec.name, "url": self.url}
        )
        self.pipeline.connect(conn, self.spec.name)
        self._emit(FeedConnected(self.spec.name, conn, self.url, self._attempt, now))
        log.info("feed_connected", venue=self.spec.name, conn=conn, url=self.url)
        frames = [] if self.spec.subscribe_on_url else self.spec.subscribe_frames(self.topics, 1)
        for frame in frames:
            self._record({"t": "send", "conn": conn, "ts": self.clock(), "data": frame})
            await self._send(ws, frame)
        pinger = None
        if self.spec.app_ping is not None:
            pinger = asyncio.create_task(self._ping(ws), name=f"{conn}-ping")
        try:
            await self._read(ws, conn, opened)
        finally:
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await pinger

    async def _read(self, ws: ClientConnection, conn: str, opened: float) -> None:
        s = self.settings
        max_age = s.max_connection_age_s
        if max_age is None and self.spec.max_connection_age_s is not None:
            max_age = self.spec.max_connection_age_s - 600  # reconnect 10 min early
        # Staleness is judged on market data: acks and pongs keep flowing from a venue whose
        # data has stalled, so they must not reset the clock.
        last_data = time.monotonic()
        while True:
            if self._stopping.is_set():
                await self._close(ws, conn, "stopped")
                return
            timeout = max(s.stale_after_s - (time.monotonic() - last_data), 0.0)
            if max_age is not None:
                remaining = max_age - (time.monotonic() - opened)
                if remaining <= 0:
                    raise _Outcome("scheduled reconnect before the venue's limit", True)
                timeout = min(timeout, remaining)
            # The frame is awaited in this task, under a deadline that `stop()` pulls in: a
            # task and an `asyncio.wait` per frame cost two loop turns of every tick's latency.
            # Cancelling `recv` loses no message (websockets guarantees it).
            try:
                async with asyncio.timeout(timeout) as self._deadline:
                    frame = await ws.recv()
            except TimeoutError:
                if self._stopping.is_set():
                    continue
                if time.monotonic() - last_data < s.stale_after_s:
                    continue  # woke for the connection-age check
                self._on_stale(conn)
                raise _Outcome(f"no market data for {s.stale_after_s:g} s") from None
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else "no close frame"
                raise _Outcome(f"closed by peer ({code})") from None
            finally:
                self._deadline = None
            text = frame if isinstance(frame, str) else frame.decode()
            if self._on_frame(conn, text):
                last_data = time.monotonic()

    # -- frames --------------------------------------------------------------------------------

    def _on_frame(self, conn: str, text: str) -> bool:
        """Record and parse a frame; True when it carried market data."""
        ts_recv = self.clock()
        now = time.monotonic()
        self.stats.frames += 1
        self._record({"t": "recv", "conn": conn, "ts": ts_recv, "data": text})
        events: list[MarketEvent | FeedEvent] = list(self.pipeline.frame(conn, text, ts_recv))
        if self.pipeline.last_error == "rate_limited":
            raise _Outcome("the venue answered with a rate-limit error", rate_limited=True)
        if events and self._outage_since is not None:
            outage = now - self._outage_since
            self._outage_since = None
            events.insert(0, FeedRecovered(self.spec.name, conn, outage, ts_recv))
            log.info("feed_recovered", venue=self.spec.name, conn=conn, outage_s=round(outage, 3))
        if events:
            self.last_data_at = now
            last = events[-1]
            ts_event = getattr(last, "ts_event", None)
            if ts_event:
                self.stats.observe_lag((ts_recv - ts_event) / 1e6)
            self.stats.events += len(events)
            self.sink(events)
        self._log_new_ignored()
        return bool(events)

    def _on_stale(self, conn: str) -> None:
        self.stats.stale += 1
        silent = self.settings.stale_after_s
        if self._outage_since is None:
            self._outage_since = time.monotonic() - silent
        self._emit(FeedStale(self.spec.name, conn, silent, self.clock()))
        log.warning("feed_stale", venue=self.spec.name, conn=conn, silent_s=silent)

    def _log_new_error(self, venue: str, kind: str, sample: str) -> None:
        log.warning("feed_frame_skipped", venue=venue, kind=kind, first_bytes=sample)

    def _log_new_ignored(self) -> None:
        for parser in self.pipeline.parsers.values():
            for kind in parser.ignored:
                if kind not in self._logged_ignored:
                    self._logged_ignored.add(kind)
                    log.info("feed_frame_ignored", venue=self.spec.name, kind=kind)

    # -- plumbing ------------------------------------------------------------------------------

    async def _ping(self, ws: ClientConnection) -> None:
        assert self.spec.app_ping is not None
        while True:
            await asyncio.sleep(self.spec.app_ping.interval_s)
            await self._send(ws, self.spec.app_ping.payload)

    @staticmethod
    async def _send(ws: ClientConnection, frame: str) -> None:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            raise _Outcome("closed while sending") from None

    async def _close(self, ws: ClientConnection, conn: str, reason: str) -> None:
        with contextlib.suppress(Exception):
            await ws.close()
        self.pipeline.disconnect(conn)
        if self._outage_since is None:
            self._outage_since = time.monotonic()
        self._record({"t": "disconnect", "conn": conn, "ts": self.clock(), "reason": reason})
        self._emit(FeedDisconnected(self.spec.name, conn, reason, self.clock()))
        log.info("feed_disconnected", venue=self.spec.name, conn=conn, reason=reason)

    def _backoff_delay(self) -> float:
        s = self.settings
        cap = min(s.backoff_max_s, s.backoff_initial_s * 2.0**self._attempt)
        self._attempt += 1
        return self.rng.uniform(s.backoff_initial_s / 2, cap)

    def _rate_limited_delay(self, retry_after: str | None) -> float:
        s = self.settings
        self.stats.rate_limited += 1
        base = min(
            s.rate_limited_backoff_max_s, s.rate_limited_backoff_s * 2.0**self._rate_limited_streak
        )
        self._rate_limited_streak += 1
        if retry_after is not None and retry_after.isdigit():
            base = max(base, float(retry_after))
        return base * self.rng.uniform(1.0, 1.25)

    def _record(self, record: dict[str, Any]) -> None:
        if self.recorder is not None:
            self.recorder.write(record)

    def _emit(self, event: FeedEvent) -> None:
        self.sink([event])
