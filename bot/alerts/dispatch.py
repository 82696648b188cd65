"""Where the daemon's alerts go: each account's durable outbox and MQTT publisher, and the
terminal; and the retained position state each account publishes."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import TextIO

import structlog

from bot.alerts.outbox import CheckpointPolicy, Outbox
from bot.alerts.payloads import alert_payload, closed_position_payload, position_payload
from bot.alerts.publisher import AccountPublisher
from bot.config import Config
from bot.core.alerting.alert import Alert
from bot.core.kernel import Kernel
from bot.core.ledger.figures import account_figures
from bot.core.market import MarkPrice

log = structlog.get_logger("marginbot.alerts")


class AlertDispatch:
    def __init__(self, config: Config, out: TextIO, started_ns: int) -> None:
        settings = config.alerts
        self.out = out
        self.position_interval_s = settings.position_interval_s
        self.outbox = (
            Outbox(Path(settings.outbox), settings.outbox_max) if config.mqtt.enabled else None
        )
        self.publishers = {
            account.name: AccountPublisher(
                config.mqtt, account.name, self.outbox, started_ns, settings.position_interval_s
            )
            for account in config.accounts
            if self.outbox is not None
        }
        self.counts: dict[str, int] = {}  # alerts raised, by kind
        self.unstored = 0  # alerts the outbox could not take (a full disk): printed and logged
        self._shown: dict[tuple[str, str], set[str]] = {}  # retained topics now open
        self._sent: dict[tuple[str, str], float] = {}

    def raise_(self, alerts: list[Alert], ids: list[str] | None = None) -> list[str]:
        """Put each alert in the outbox of its account (or of every account), then print it:
        an alert on the terminal is already safe on disk. `ids` are the kernel's (the same in
        a replay); an alert without one gets a new one. Returns the alerts' ids."""
        given = ids or []
        ids = []
        for number, alert in enumerate(alerts):
            self.counts[alert.kind] = self.counts.get(alert.kind, 0) + 1
            if alert.account is None:
                targets = list(self.publishers.values())
            else:
                targets = (
                    [self.publishers[alert.account]] if alert.account in self.publishers else []
                )
            payload = alert_payload(alert, alert_id=given[number] if given else None)
            ids.append(payload["id"])  # one id for every copy of the alert
            for publisher in targets:
                try:
                    publisher.enqueue(alert, payload)
                except (sqlite3.Error, OSError) as exc:  # a full disk: printed and logged only
                    self.unstored += 1
                    log.warning("outbox_write_failed", kind=alert.kind, error=str(exc))
            self.out.write(f"ALERT {alert.severity.value.upper()} {alert.kind}: {alert.message}\n")
            self.out.flush()
        return ids

    def positions(self, kernel: Kernel, event: MarkPrice) -> None:
        """Retained position state, at most every `position_interval_s` per account and symbol
        (the figures are not computed more often), and `closed` at once when one is gone."""
        if not self.publishers:
            return
        now = time.monotonic()
        interval = self.position_interval_s
        prices = kernel.prices(event.venue, event.symbol)
        last = prices.last if prices is not None else None
        for name in kernel.accounts():
            publisher = self.publishers.get(name)
            account = kernel.account(name)
            if publisher is None or account.venue != event.venue:
                continue
            key = (name, event.symbol)
            shown = self._shown.get(key, set())
            mine = account.positions_of(event.symbol)
            if not mine and not shown:
                continue
            if mine and now - self._sent.get(key, -interval) < interval:
                continue
            self._sent[key] = now
            current = {
                f"{p.symbol}-{p.slot.value}" if p.slot.value != "both" else p.symbol: p
                for p in (account_figures(account).positions if mine else ())
                if p.symbol == event.symbol
            }
            for topic in shown - current.keys():
                publisher.update_position(
                    topic, closed_position_payload(name, event.symbol, event.mark_price, last)
                )
            for topic, figures in current.items():
                publisher.update_position(topic, position_payload(name, figures, last))
            self._shown[key] = set(current)

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [
            asyncio.create_task(p.run(), name=f"mqtt-alerts-{name}")
            for name, p in self.publishers.items()
        ]
        if self.outbox is not None:
            tasks.append(asyncio.create_task(keep_checkpointed(self.outbox), name="outbox-wal"))
        return tasks

    async def flush(self, tasks: list[asyncio.Task[None]], bound_s: float = 3.0) -> None:
        """Give the publishers a bounded time to empty the outbox, then say offline."""
        if self.outbox is None:
            return
        deadline = time.monotonic() + bound_s
        while (
            self.outbox.depth()
            and time.monotonic() < deadline
            and any(p.stats.connected for p in self.publishers.values())
        ):
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for publisher in self.publishers.values():
            await publisher.publish_offline()
        if self.outbox.depth():
            self.out.write(
                f"{self.outbox.depth()} alerts stay in {self.outbox.path}; they are "
                "delivered at the next start\n"
            )
        self.outbox.close()


async def keep_checkpointed(outbox: Outbox, period_s: float = 1.0) -> None:
    """Checkpoint the outbox's WAL in a worker thread when `CheckpointPolicy` says. A failed
    checkpoint (a full disk, say) is logged and tried again: alerts keep going to the WAL."""
    policy = CheckpointPolicy()
    failures = 0
    while True:
        await asyncio.sleep(period_s)
        writes = outbox.writes
        mode = policy.due(writes)
        if mode is None:
            continue
        try:
            await asyncio.to_thread(outbox.checkpoint, mode)
        except (sqlite3.Error, OSError) as exc:
            failures += 1
            if failures == 1 or failures % 60 == 0:
                log.warning(
                    "outbox_checkpoint_failed",
                    error=repr(exc),
                    failures=failures,
                    path=str(outbox.path),
                )
            continue
        policy.done(writes)
