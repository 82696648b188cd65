"""Publish alerts and state over MQTT (aiomqtt), one connection per account.

Each account's connection carries its Last Will (`<prefix>/<account>/status` = offline,
retained) and announces `online` (retained) when it connects. It drains the account's part of
the outbox in order: a message is deleted only after the broker acknowledged it (QoS 1 PUBACK),
so a broker restart or a crash loses nothing; a redelivered message keeps its id. Delivered
rows are deleted when the publisher pauses (a millisecond without alerts), not at each PUBACK.
Position state goes retained, latest value only, at most every `position_interval_s`. The
daemon never waits on any of this: `enqueue` writes to SQLite and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import orjson
import structlog

from bot.alerts.eager_client import EagerClient
from bot.alerts.outbox import Outbox
from bot.alerts.payloads import alert_payload, alert_topic, offline_payload, status_payload
from bot.config import MqttConfig
from bot.core.alerting.alert import Alert

log = structlog.get_logger("marginbot.alerts")

DELETE_AFTER_S = 0.001  # a pause this long after the last acknowledgement
DELETE_BATCH = 256


@dataclass
class PublisherStats:
    published: int = 0
    connects: int = 0
    connected: bool = False
    last_error: str | None = None
    errors: int = 0


@dataclass
class _State:
    payloads: dict[str, bytes] = field(default_factory=dict)  # topic -> latest
    sent_at: dict[str, float] = field(default_factory=dict)


def _tls(config: MqttConfig) -> aiomqtt.TLSParameters | None:
    if config.tls_ca_file is None:
        return None
    return aiomqtt.TLSParameters(
        ca_certs=config.tls_ca_file,
        certfile=config.tls_cert_file,
        keyfile=config.tls_key_file,
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )


def _explain(exc: Exception) -> str:
    text = str(exc)
    if "authoriz" in text.lower() or "bad user name or password" in text.lower():
        return (
            f"the broker refused the credentials ({text}); check [mqtt] username and the "
            "password environment variable"
        )
    return text


class AccountPublisher:
    def __init__(
        self,
        config: MqttConfig,
        account: str,
        outbox: Outbox,
        started_ns: int,
        position_interval_s: float = 1.0,
    ) -> None:
        self.config = config
        self.account = account
        self.outbox = outbox
        self.started_ns = started_ns
        self.position_interval_s = position_interval_s
        self.stats = PublisherStats()
        self._wake = asyncio.Event()
        self._state = _State()
        self._logged: set[str] = set()

    @property
    def status_topic(self) -> str:
        return f"{self.config.prefix}/{self.account}/status"

    def enqueue(self, alert: Alert, payload: dict[str, Any] | None = None) -> None:
        """Queue an alert. Pass the same `payload` to every account's publisher for an alert
        without an account, so each copy carries the same id and consumers can drop repeats."""
        payload = payload or alert_payload(alert)
        topic = alert_topic(self.config.prefix, alert).replace("/_/", f"/{self.account}/")
        if not self.outbox.add(self.account, payload["id"], topic, orjson.dumps(payload)):
            log.warning(
                "outbox_full",
                account=self.account,
                bound=self.outbox.max_rows,
                dropped_total=self.outbox.dropped,
                hint="the broker has been unreachable for long; oldest alerts dropped",
            )
        self._wake.set()

    def update_position(self, symbol: str, payload: dict[str, Any]) -> None:
        self._state.payloads[f"{self.config.prefix}/{self.account}/position/{symbol}"] = (
            orjson.dumps(payload)
        )
        self._wake.set()

    def _client(self, suffix: str, **options: Any) -> aiomqtt.Client:
        """A connection to the configured broker, credentials and TLS included."""
        env = self.config.password_env
        return EagerClient(
            self.config.host,
            self.config.port,
            identifier=f"{self.config.client_id}-{self.account}{suffix}",
            username=self.config.username,
            password=os.environ.get(env) if env else None,
            tls_params=_tls(self.config),
            **options,
        )

    async def run(self) -> None:
        """Stay connected and drain; returns only when cancelled."""
        delay = 0.5
        while True:
            try:
                async with self._client(
                    "",
                    timeout=10,
                    keepalive=self.config.keepalive_s,
                    will=aiomqtt.Will(
                        self.status_topic,
                        offline_payload(self.started_ns, [self.account]),
                        qos=1,
                        retain=True,
                    ),
                ) as client:
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                self.stats.connected = False
                self.stats.errors += 1
                self.stats.last_error = _explain(exc)
                if self.stats.last_error not in self._logged:
                    self._logged.add(self.stats.last_error)
                    log.warning(
                        "mqtt_unavailable",
                        account=self.account,
                        host=self.config.host,
                        port=self.config.port,
                        error=self.stats.last_error,
                        queued=self.outbox.depth(self.account),
                    )
                await asyncio.sleep(delay * random.uniform(1.0, 1.5))  # noqa: S311 — jitter
                delay = min(delay * 2, 30.0)
            else:
                delay = 0.5

    async def _session(self, client: aiomqtt.Client) -> None:
        self.stats.connects += 1
        online = status_payload("online", self.started_ns, [self.account])
        await client.publish(
            self.status_topic, orjson.dumps(online), qos=1, retain=True, timeout=10
        )
        self.stats.connected = True
        log.info("mqtt_connected", account=self.account, queued=self.outbox.depth(self.account))
        # Reading the (empty) message stream makes a dead broker raise at once, instead of at
        # the next publish's timeout. Whichever task ends first ends the session with its own
        # error (not wrapped in an ExceptionGroup), so `run` reconnects.
        tasks = [asyncio.create_task(self._read(client)), asyncio.create_task(self._drain(client))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        raise aiomqtt.MqttError("the broker closed the connection")

    @staticmethod
    async def _read(client: aiomqtt.Client) -> None:
        async for _ in client.messages:
            pass

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            for item in self.outbox.pending(self.account):
                await client.publish(
                    item.topic, item.payload, qos=item.qos, retain=item.retain, timeout=10
                )
                self.outbox.ack(item.seq)
                self.stats.published += 1
            await self._send_state(client)
            if self.outbox.depth(self.account):
                continue
            # The rows of delivered alerts go in a pause, not while the broker is still
            # handing the last one to the subscribers (see `Outbox.ack`); and at least every
            # DELETE_BATCH alerts when they come without one.
            if self.outbox.delivered and (
                not await self._woken_within(DELETE_AFTER_S)
                or self.outbox.delivered >= DELETE_BATCH
            ):
                self._delete_delivered()
            await self._woken_within(self.position_interval_s)

    def _delete_delivered(self) -> None:
        try:
            self.outbox.delete_delivered()
        except sqlite3.Error as exc:  # a full disk: the rows stay noted and go next time
            if repr(exc) not in self._logged:
                self._logged.add(repr(exc))
                log.warning("outbox_delete_failed", account=self.account, error=repr(exc))

    async def _woken_within(self, seconds: float) -> bool:
        # Awaited here, not through a helper task: an alert's wake-up is one loop turn.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
                return True
        return False

    async def _send_state(self, client: aiomqtt.Client) -> None:
        now = time.monotonic()
        for topic, payload in list(self._state.payloads.items()):
            if now - self._state.sent_at.get(topic, 0.0) < self.position_interval_s:
                continue
            await client.publish(topic, payload, qos=0, retain=True, timeout=10)
            self._state.sent_at[topic] = now
            del self._state.payloads[topic]

    async def publish_offline(self) -> None:
        """On a graceful stop: flush what is pending (briefly) and say offline."""
        if not self.stats.connected:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with self._client("-bye", timeout=5) as client:
                for item in self.outbox.pending(self.account, limit=10_000):
                    await client.publish(item.topic, item.payload, qos=item.qos, timeout=5)
                    self.outbox.ack(item.seq)
                await client.publish(
                    self.status_topic,
                    offline_payload(self.started_ns, [self.account], time.time_ns()),
                    qos=1,
                    retain=True,
                    timeout=5,
                )
