"""The live feed client against the simulator, over real loopback websockets."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot.core.feed_events import (
    FeedBackoff,
    FeedConnected,
    FeedDisconnected,
    FeedRecovered,
    FeedStale,
)
from bot.core.market import MarkPrice
from bot.feeds.client import FeedClient, FeedSettings
from bot.session.format import SessionHeader
from bot.session.io import RotatingRecorder
from bot.session.replay import replay
from bot.sim.faults import Fault, FaultPlan
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.venues.spec import BINANCE, BYBIT, AppPing, VenueSpec

FAST = FeedSettings(
    stale_after_s=1.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    rate_limited_backoff_s=0.2,
    open_timeout_s=2.0,
)


def scenario(seconds: int = 60):
    return scenario_from_dict(
        {
            "symbols": ["BTCUSDT"],
            "tick_ms": 20,
            "mark": [{"at": 0, "price": "10000"}, {"at": seconds, "price": "9000"}],
            "last": [{"at": 0, "price": "10000"}, {"at": seconds, "price": "9100"}],
        },
        "test",
    )


class Run:
    """A client and what it reported, with timestamps."""

    def __init__(
        self, spec: VenueSpec, sim: Simulator, settings: FeedSettings = FAST, **kwargs
    ) -> None:
        self.events: list[tuple[float, object]] = []
        # Binance's mark prices come from its /market endpoint.
        endpoint = "market" if spec.name == "binance" else ""
        self.client = FeedClient(
            spec,
            sim.route(spec.name, ["BTCUSDT"], endpoint),
            self.sink,
            settings=settings,
            rng=random.Random(7),
            **kwargs,
        )

    def sink(self, events) -> None:
        now = time.monotonic()
        self.events.extend((now, e) for e in events)

    def of(self, kind: type) -> list:
        return [e for _, e in self.events if isinstance(e, kind)]

    def first_time(self, predicate: Callable[[object], bool]) -> float:
        return next(t for t, e in self.events if predicate(e))

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting"
            await asyncio.sleep(0.02)


async def run_with(
    sim: Simulator,
    spec: VenueSpec,
    predicate: Callable[[Run], bool],
    settings: FeedSettings = FAST,
    **kwargs,
) -> Run:
    run = Run(spec, sim, settings, **kwargs)
    task = asyncio.create_task(run.client.run())
    try:
        await run.until(lambda: predicate(run))
    finally:
        run.client.stop()
        await asyncio.wait_for(task, 5)
    return run


async def test_reconnects_after_a_drop_and_subscribes_again() -> None:
    plan = FaultPlan((Fault("drop", connection=1, after_s=0.5),))
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        run = await run_with(
            sim,
            BINANCE,
            lambda r: any(
                isinstance(e, MarkPrice) and r.client.stats.connects == 2 for _, e in r.events[-5:]
            ),
        )
        assert sim.stats.connections["binance"] == 2
        assert sim.stats.subscribe_requests == {"binance.market.1": 1, "binance.market.2": 1}
    [dropped, *_] = run.of(FeedDisconnected)
    assert "no close frame" in dropped.reason
    assert [c.conn for c in run.of(FeedConnected)] == ["binance.market.1", "binance.market.2"]
    assert run.of(FeedRecovered)
    assert run.client.stats.reconnects == 1


async def test_a_stall_is_detected_within_the_configured_time() -> None:
    plan = FaultPlan((Fault("stall", connection=1, after_s=0.5),))
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        started = time.monotonic()
        run = await run_with(sim, BINANCE, lambda r: bool(r.of(FeedRecovered)))
    stale_at = run.first_time(lambda e: isinstance(e, FeedStale))
    # Silent from 0.5 s; declared stale 1.0 s later (plus scheduling slack).
    assert 1.4 <= stale_at - started <= 2.2
    [recovered] = run.of(FeedRecovered)
    assert recovered.conn == "binance.market.2"
    assert 1.0 <= recovered.outage_s < 3.0


async def test_stop_ends_a_silent_connection_at_once() -> None:
    """The reader waits for a frame under a deadline of many seconds; stop() must not wait it
    out, and must close the connection as a stop, not as an outage."""
    plan = FaultPlan((Fault("stall", connection=1, after_s=0.2, duration_s=0),))
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        run = Run(BINANCE, sim, FeedSettings(stale_after_s=30.0))
        task = asyncio.create_task(run.client.run())
        await run.until(lambda: bool(run.of(MarkPrice)))
        await asyncio.sleep(0.5)  # silent now: the reader is inside its 30 s wait
        stopping = time.monotonic()
        run.client.stop()
        await asyncio.wait_for(task, 5)
        took = time.monotonic() - stopping
    assert took < 1.0
    assert [d.reason for d in run.of(FeedDisconnected)] == ["stopped"]
    assert run.of(FeedStale) == []


async def test_survives_malformed_truncated_duplicated_and_reordered_frames() -> None:
    plan = FaultPlan(
        (
            Fault("malformed", connection=1, after_s=0.2, count=3),
            Fault("truncate", connection=1, after_s=0.3, count=2),
            Fault("duplicate", connection=1, after_s=0.4, count=2),
            Fault("reorder", connection=1, after_s=0.5, count=2),
        )
    )
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        run = await run_with(sim, BINANCE, lambda r: len(r.of(MarkPrice)) > 60)
        assert sim.stats.faults_applied["malformed"] == 3
        assert sim.stats.faults_applied["truncate"] == 2
    assert run.client.pipeline.errors == {("binance", "invalid_json"): 5}
    assert run.client.stats.reconnects == 0  # skipped, never fatal
    assert [d.reason for d in run.of(FeedDisconnected)] == ["stopped"]  # only our own stop


async def test_backs_off_longer_on_429() -> None:
    plan = FaultPlan(
        (
            Fault("refuse_429", connection=1, retry_after=0),
            Fault("refuse_429", connection=2, retry_after=0),
        )
    )
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        run = await run_with(sim, BINANCE, lambda r: bool(r.of(MarkPrice)))
        assert sim.stats.refused == 2
    backoffs = run.of(FeedBackoff)
    assert [b.rate_limited for b in backoffs] == [True, True]
    assert 0.2 <= backoffs[0].delay_s <= 0.25  # 0.2 s base, jitter up to +25 %
    assert 0.4 <= backoffs[1].delay_s <= 0.5  # doubled
    assert run.client.stats.rate_limited == 2
    assert backoffs[0].reason == "HTTP 429"


def test_retry_after_is_honoured() -> None:
    client = FeedClient(
        BINANCE,
        BINANCE.routes("sim", ["BTCUSDT"], "ws://127.0.0.1:9")[0],
        lambda _: None,
        settings=FAST,
        rng=random.Random(1),
    )
    assert client._rate_limited_delay("7") >= 7


def marks_since_reconnect(run: Run) -> int:
    """Mark prices parsed on the newest connection: its ticker snapshot and the deltas after."""
    connected = [i for i, (_, e) in enumerate(run.events) if isinstance(e, FeedConnected)]
    return sum(isinstance(e, MarkPrice) for _, e in run.events[connected[-1] :]) if connected else 0


async def test_bybit_reconnect_rebuilds_tickers_from_a_fresh_snapshot() -> None:
    plan = FaultPlan((Fault("drop", venue="bybit", connection=1, after_s=0.5),))
    async with Simulator(ScenarioSource(scenario(), venues=("bybit",)), faults=plan) as sim:
        run = await run_with(
            sim,
            BYBIT,
            lambda r: r.client.stats.connects == 2 and marks_since_reconnect(r) >= 3,
        )
    assert run.client.pipeline.errors == {}  # no delta ever met a missing snapshot
    marks = run.of(MarkPrice)
    assert marks[-1].mark_price < marks[0].mark_price  # the price path moved on


async def test_scheduled_reconnect_before_the_venue_limit() -> None:
    settings = FeedSettings(stale_after_s=1.0, max_connection_age_s=0.4)
    async with Simulator(ScenarioSource(scenario())) as sim:
        run = await run_with(sim, BINANCE, lambda r: r.client.stats.connects >= 3, settings)
    assert run.of(FeedBackoff) == []  # planned: reconnect at once, no backoff
    reasons = {d.reason for d in run.of(FeedDisconnected)}
    assert "scheduled reconnect before the venue's limit" in reasons


async def test_bybit_application_pings_are_sent_and_answered() -> None:
    pinging = replace(BYBIT, app_ping=AppPing(0.1, '{"op":"ping"}'))
    async with Simulator(ScenarioSource(scenario(), venues=("bybit",))) as sim:
        run = await run_with(sim, pinging, lambda _: sim.stats.app_pings >= 3)
    assert run.client.pipeline.ignored()["bybit:op:ping"] >= 2  # the pong replies


async def test_recorded_live_session_replays_to_the_same_events(tmp_path: Path) -> None:
    recorder = RotatingRecorder(
        tmp_path, SessionHeader(("binance",), ("BTCUSDT",), time.time_ns(), "test")
    )
    async with Simulator(ScenarioSource(scenario())) as sim:
        run = await run_with(sim, BINANCE, lambda r: len(r.of(MarkPrice)) >= 50, recorder=recorder)
    recorder.close()
    [session] = list(tmp_path.glob("session-*.jsonl.gz"))
    summary = replay(session)
    assert summary.events["mark_price"] == len(run.of(MarkPrice))
    assert summary.parse_errors == {}


async def test_a_rate_limit_error_frame_backs_off_like_429() -> None:
    plan = FaultPlan((Fault("rate_limit_frame", connection=1, after_s=0.3),))
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        run = await run_with(
            sim,
            BINANCE,
            lambda r: r.client.stats.connects == 2 and marks_since_reconnect(r) >= 3,
        )
    [backoff] = run.of(FeedBackoff)
    assert backoff.rate_limited
    assert backoff.delay_s >= 0.2
    assert run.client.pipeline.errors[("binance", "rate_limited")] == 1


async def test_faults_by_schedule_hit_whichever_connection_is_open() -> None:
    plan = FaultPlan((Fault("drop", at_s=0.6),))  # 0.6 s after the simulator started
    async with Simulator(ScenarioSource(scenario()), faults=plan) as sim:
        started = time.monotonic()
        run = await run_with(sim, BINANCE, lambda r: bool(r.of(FeedDisconnected)))
    dropped_at = run.first_time(lambda e: isinstance(e, FeedDisconnected))
    assert 0.4 <= dropped_at - started <= 1.5
