"""Prometheus metrics and a health check for the running daemon, served by bot/web/server.py.

Nothing is counted twice on the hot path: the collector reads the daemon's own counters and
ledgers when Prometheus scrapes, so a tick costs the same with metrics on or off.

    GET /metrics   Prometheus text format
    GET /healthz   200 "ok" (with a line per quarantined-input note), or 503 with one line
                   per problem (a stale feed, a stopping daemon)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Protocol, TextIO

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.alerts.outbox import Outbox
from bot.alerts.publisher import AccountPublisher
from bot.control.mqtt_commands import CommandChannel
from bot.control.signing import CommandGate
from bot.core.kernel import Kernel
from bot.feeds.client import FeedClient
from bot.state.quarantine import Quarantine
from bot.state.store import StateStore
from bot.web.history import History


class Watched(Protocol):
    """What the HTTP side (/metrics, /healthz, the web view) reads of the running daemon:
    counters it keeps and the kernel's query API, never its decisions (bot/daemon.py)."""

    kernel: Kernel
    feeds: list[FeedClient]
    event_counts: dict[tuple[str, str], int]
    alert_counts: dict[str, int]
    publishers: dict[str, AccountPublisher]
    outbox: Outbox | None
    command_gate: CommandGate | None
    commands: CommandChannel
    command_task: asyncio.Task[None] | None
    state: StateStore | None
    quarantine: Quarantine
    storage_error: str | None
    stop: asyncio.Event
    history: History
    steps: int
    out: TextIO


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"marginbot_{name}", documentation, labels=labels)


def _counter(name: str, documentation: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"marginbot_{name}", documentation, labels=labels)


class DaemonCollector(Collector):
    def __init__(self, daemon: Watched) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Metric]:
        yield from self._feeds()
        yield from self._alerts()
        yield from self._accounts()
        yield from self._state()

    def _feeds(self) -> Iterator[Metric]:
        d = self.daemon
        events = _counter("events", "Market events processed", ["venue", "kind"])
        for (venue, kind), count in sorted(d.event_counts.items()):
            events.add_metric([venue, kind], count)
        yield events
        labels = ["venue", "stream"]
        frames = _counter("feed_frames", "Websocket frames received", labels)
        reconnects = _counter("feed_reconnects", "Feed reconnections", labels)
        stale = _counter("feed_stale", "Times a feed went silent past its limit", labels)
        errors = _counter("feed_parse_errors", "Malformed frames skipped", [*labels, "kind"])
        lag = _gauge("feed_lag_seconds", "Median receive − exchange time, recent", labels)
        silent = _gauge("feed_silence_seconds", "Time since the last market data", labels)
        up = _gauge("feed_up", "1 when market data flows, 0 when stale or down", labels)
        now = time.monotonic()
        for feed in d.feeds:
            key = [feed.spec.name, feed.route.label]
            frames.add_metric(key, feed.stats.frames)
            reconnects.add_metric(key, feed.stats.reconnects)
            stale.add_metric(key, feed.stats.stale)
            for (_conn, kind), count in feed.pipeline.errors.items():
                errors.add_metric([*key, kind], count)
            median = feed.stats.median_lag_ms
            if median is not None:
                lag.add_metric(key, median / 1000)
            if feed.last_data_at is not None:
                silent.add_metric(key, now - feed.last_data_at)
            up.add_metric(key, 0 if feed.health() else 1)
        yield from (frames, reconnects, stale, errors, lag, silent, up)

    def _alerts(self) -> Iterator[Metric]:
        d = self.daemon
        raised = _counter("alerts_raised", "Alerts raised by the rules", ["kind"])
        for kind, count in sorted(d.alert_counts.items()):
            raised.add_metric([kind], count)
        yield raised
        published = _counter("alerts_published", "MQTT messages acknowledged", ["account"])
        connected = _gauge("mqtt_connected", "1 when connected to the broker", ["account"])
        for name, publisher in d.publishers.items():
            published.add_metric([name], publisher.stats.published)
            connected.add_metric([name], 1 if publisher.stats.connected else 0)
        yield from (published, connected)
        if d.command_gate is not None:
            commands = _counter(
                "mqtt_commands", "MQTT command messages, by what became of them", ["result"]
            )
            commands.add_metric(["handled"], d.commands.handled)
            commands.add_metric(["failed"], d.commands.failures)
            for reason, count in sorted(d.commands.refused.items()):
                commands.add_metric([reason], count)
            up = _gauge("mqtt_commands_connected", "1 when the command listener is subscribed", [])
            up.add_metric([], 1 if d.commands.connected else 0)
            yield from (commands, up)
        if d.outbox is not None:
            depth = _gauge("outbox_depth", "Messages waiting for the broker", [])
            depth.add_metric([], d.outbox.depth())
            dropped = _counter("outbox_dropped", "Oldest messages dropped at the bound", [])
            dropped.add_metric([], d.outbox.dropped)
            yield from (depth, dropped)

    def _accounts(self) -> Iterator[Metric]:
        equity = _gauge("account_equity", "Margin balance at the marks", ["account"])
        wallet = _gauge("account_wallet", "Wallet balance", ["account"])
        ratio = _gauge("account_margin_ratio", "Maintenance margin / margin balance", ["account"])
        positions = _gauge("account_positions", "Open positions", ["account"])
        nearest = _gauge(
            "account_liquidation_distance",
            "Nearest liquidation, as a fraction of the mark price",
            ["account"],
        )
        kernel = self.daemon.kernel
        for name in kernel.accounts():
            figures = kernel.figures(name)
            equity.add_metric([name], float(figures.margin_balance))
            wallet.add_metric([name], float(figures.wallet_balance))
            positions.add_metric([name], len(figures.positions))
            if figures.margin_ratio is not None:
                ratio.add_metric([name], float(figures.margin_ratio))
            distances = [
                abs(p.mark_price - p.liquidation_price) / p.mark_price
                for p in figures.positions
                if p.liquidation_price is not None and p.mark_price > 0
            ]
            if distances:
                nearest.add_metric([name], float(min(distances)))
        yield from (equity, wallet, ratio, positions, nearest)

    def _state(self) -> Iterator[Metric]:
        state = self.daemon.state
        if state is None:
            return
        journaled = _counter("journal_inputs", "Inputs journaled since start", [])
        journaled.add_metric([], state.appended)
        snapshots = _counter("snapshots", "Snapshots written since start", [])
        snapshots.add_metric([], state.snapshots)
        quarantined = _counter(
            "inputs_quarantined", "Inputs that broke the engine, set aside (a bug)", []
        )
        quarantined.add_metric([], self.daemon.quarantine.count)
        yield from (journaled, snapshots, quarantined)


def health(daemon: Watched) -> list[str]:
    """What is wrong, one line each; empty when healthy."""
    problems = [problem for feed in daemon.feeds if (problem := feed.health())]
    if daemon.storage_error is not None:
        problems.append(f"the journal cannot be written ({daemon.storage_error}): inputs refused")
    task = daemon.command_task
    if task is not None and task.done() and not daemon.stop.is_set():
        problems.append("the MQTT command channel has stopped; commands over MQTT are not read")
    if daemon.stop.is_set():
        problems.append("the daemon is stopping")
    return problems


def metrics_registry(daemon: Watched) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DaemonCollector(daemon))
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def healthz(daemon: Watched) -> tuple[int, str]:
    """/healthz: 200 "ok" (with a note per quarantined input), or 503 and the problems."""
    problems = health(daemon)
    if problems:
        return 503, "\n".join(problems) + "\n"
    notes = ""
    if daemon.quarantine.count:
        notes = (
            f"note: {daemon.quarantine.count} inputs quarantined "
            f"(last: {daemon.quarantine.last}); see marginbot status\n"
        )
    return 200, "ok\n" + notes
