"""`marginbot sim` and `marginbot watch`: the simulator, and a live price view of a feed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from bot import __version__
from bot.aio import wait_event
from bot.core.feed_events import FeedEvent
from bot.core.market import MarketEvent
from bot.core.prices import PriceBoard
from bot.feeds.client import FeedClient, FeedSettings
from bot.session.format import SessionHeader
from bot.session.io import RotatingRecorder
from bot.sim.faults import FaultPlan, load_faults
from bot.sim.scenario import load_scenario
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource, SessionSource, Source
from bot.venues.spec import SPECS, FeedRoute

SHIPPED_SESSION = (
    Path(__file__).resolve().parent.parent / "data/sessions" / ("binance-btcusdt-20230404.jsonl.gz")
)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@dataclass
class SimOptions:
    host: str
    port: int
    session: Path | None
    scenario: Path | None
    speed: float
    loop: bool
    faults: Path | None
    start_delay_s: float | None = None  # a scenario's clock: this long after start, or None


def build_source(options: SimOptions) -> Source:
    if options.scenario is not None:
        return ScenarioSource(load_scenario(options.scenario))
    return SessionSource(options.session or SHIPPED_SESSION)


async def run_sim(options: SimOptions, out: TextIO) -> int:
    plan = load_faults(options.faults) if options.faults else FaultPlan()
    # A scenario's clock starts when the first client subscribes (a daemon started by hand a
    # minute later still sees the whole story), or after --start-delay.
    waits = options.scenario is not None and options.start_delay_s is None
    simulator = Simulator(
        build_source(options),
        faults=plan,
        speed=options.speed,
        loop=options.loop,
        wait_for_subscriber=waits,
        start_delay_s=options.start_delay_s or 0.0,
        host=options.host,
        port=options.port,
    )
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with simulator:
        out.write(
            f"marginbot simulator on {simulator.base_url()}\n"
            f"  binance  {simulator.base_url('ws')}/public/stream and /market/stream  "
            "(REST /fapi/...)\n"
            f"  bybit    {simulator.base_url('ws')}/v5/public/linear  (REST /v5/market/...)\n"
            f"  watch it: marginbot watch --venue binance --sim {simulator.base_url('ws')}\n"
            + ("  the scenario starts when the first client subscribes\n" if waits else "")
        )
        out.flush()
        finished = asyncio.ensure_future(simulator.finished.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({finished, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (finished, stopped):
            task.cancel()
        if simulator.finished.is_set() and not stop.is_set():
            out.write("the source has ended; serving the final prices until Ctrl-C\n")
            out.flush()
            await stop.wait()
    return 0


@dataclass
class WatchedFeed:
    venue: str
    routes: list[FeedRoute]  # one connection each (Binance: /public and /market)
    symbols: list[str]
    stale_after_s: float


@dataclass
class WatchOptions:
    feeds: list[WatchedFeed]
    duration_s: float | None
    interval_s: float
    record_dir: Path | None = None
    record_max_bytes: int = 256 * 1024 * 1024
    record_compress: bool = True
    config_digest: str | None = None


def _recorder(options: WatchOptions) -> RotatingRecorder | None:
    if options.record_dir is None:
        return None
    header = SessionHeader(
        venues=tuple(dict.fromkeys(f.venue for f in options.feeds)),
        symbols=tuple(dict.fromkeys(s for f in options.feeds for s in f.symbols)),
        start_time_ns=time.time_ns(),
        marginbot_version=__version__,
        config_digest=options.config_digest,
        source={"recorded_by": "marginbot watch"},
    )
    return RotatingRecorder(
        options.record_dir, header, options.record_max_bytes, options.record_compress
    )


def _price(value: Decimal | None) -> str:
    return "--" if value is None else f"{value:,.2f}"


async def run_watch(options: WatchOptions, out: TextIO) -> int:
    board = PriceBoard()
    health: dict[str, list[str]] = {f.venue: [] for f in options.feeds}

    def sink(events: list[MarketEvent | FeedEvent]) -> None:
        for event in events:
            name = type(event).__name__
            if name.startswith("Feed"):
                health[event.venue].append(name.removeprefix("Feed").lower())
            else:
                board.apply(event)  # type: ignore[arg-type]

    recorder = _recorder(options)
    feed_clients = [
        [
            FeedClient(
                SPECS[f.venue],
                route,
                sink,
                recorder=recorder,
                settings=FeedSettings(stale_after_s=f.stale_after_s),
            )
            for route in f.routes
        ]
        for f in options.feeds
    ]
    clients = [c for group in feed_clients for c in group]
    stop = asyncio.Event()
    _stop_on_signals(stop)
    tasks = [asyncio.create_task(c.run(), name=f"watch-{c.route.label}") for c in clients]
    out.writelines(
        f"watching {feed.venue} {', '.join(feed.symbols)} on {route.url}\n"
        for feed in options.feeds
        for route in feed.routes
    )
    out.write(
        f"{'time':<9} {'venue':<8} {'symbol':<10} {'mark':>12} {'last':>12} "
        f"{'mark-last':>10} {'diverge':>8} {'lag ms':>7}  feed\n"
    )
    started = time.monotonic()
    try:
        while not stop.is_set():
            await wait_event(stop, options.interval_s)
            for group, feed in zip(feed_clients, options.feeds, strict=True):
                _print_rows(out, board, group, feed, health[feed.venue])
            out.flush()
            if recorder is not None:
                recorder.flush()
            if options.duration_s is not None and time.monotonic() - started >= options.duration_s:
                break
    finally:
        for client in clients:
            client.stop()
        await asyncio.gather(*tasks)
        recorded = recorder.path if recorder is not None else None
        if recorder is not None:
            recorder.close()
    for client in clients:
        skipped = sum(client.pipeline.errors.values())
        skew, median = client.stats.clock_skew_ms, client.stats.median_lag_ms
        timing = (
            ""
            if skew is None or median is None
            else f", lag median {median:.1f} ms, clock skew ≈ {skew:.1f} ms"
        )
        out.write(
            f"{client.route.label}: {client.stats.frames} frames, "
            f"{client.stats.reconnects} reconnects, {skipped} malformed frames skipped{timing}\n"
        )
    if recorded is not None:
        out.write(f"session recorded in {recorded.parent}\n")
    return 0


def _print_rows(
    out: TextIO, board: PriceBoard, clients: list[FeedClient], feed: WatchedFeed, health: list[str]
) -> None:
    stamp = time.strftime("%H:%M:%S")
    connected = all(c.stats.connected for c in clients)
    state = ", ".join(dict.fromkeys(health)) or ("live" if connected else "connecting")
    health.clear()
    lags = [c.stats.last_lag_ms for c in clients if c.stats.last_lag_ms is not None]
    lag = max(lags) if lags else None
    for symbol in feed.symbols:
        prices = board.get(feed.venue, symbol)
        gap = (prices.mark - prices.last) if prices.mark and prices.last else None
        divergence = prices.divergence()
        shown = "--" if divergence is None else f"{divergence * 100:.3f}%"
        out.write(
            f"{stamp:<9} {feed.venue:<8} {symbol:<10} {_price(prices.mark):>12} "
            f"{_price(prices.last):>12} {_price(gap):>10} {shown:>8} "
            f"{'--' if lag is None else f'{lag:.1f}':>7}  {state}\n"
        )


def main_sim(options: SimOptions) -> int:
    return asyncio.run(run_sim(options, sys.stdout))


def main_watch(options: WatchOptions) -> int:
    return asyncio.run(run_watch(options, sys.stdout))
