"""Commands over MQTT: signed requests on `<prefix>/cmd`, replies on `<prefix>/reply/<id>`.

Off unless `[mqtt] commands = true`; then every request must be signed with its account's
command secret (`signing.py`). The daemon never waits on the broker: this task reconnects with
backoff on its own, and a broker that is down only delays remote commands. No message can end
it: each is handled inside its own guard, counted, logged, and answered when it can be.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import orjson
import structlog

from bot.config import MqttConfig
from bot.control.codec import check_text, correlation_id
from bot.control.signing import CommandGate
from bot.errors import InputError

log = structlog.get_logger("marginbot.mqtt")


@dataclass
class CommandChannel:
    """What the command listener has done, for `/metrics`, `/healthz` and `status`."""

    connected: bool = False
    handled: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by reason kind
    failures: int = 0  # messages whose handling raised (a bug): logged, answered if possible


def _reply_topic(prefix: str, reply: dict[str, Any]) -> str:
    """`<prefix>/reply/<id>`, or `.../anonymous` when the id could break a topic."""
    ident = reply.get("id")
    try:
        check_text("id", ident if isinstance(ident, str) else None)
    except InputError:
        ident = None
    return f"{prefix}/reply/{ident or 'anonymous'}"


def _payload_id(raw: bytes) -> str | None:
    """The id of the command inside an envelope, so that a refusal reaches its sender."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    payload = document.get("payload") if isinstance(document, dict) else None
    return correlation_id(payload if isinstance(payload, str) else raw)


def answer(
    raw: bytes,
    gate: CommandGate,
    handle: Callable[[bytes], dict[str, Any]],
    channel: CommandChannel,
    now_ms: int,
) -> dict[str, Any]:
    """The reply to one MQTT message: opened by the gate, then handled; never raises."""
    try:
        command = gate.open(raw, now_ms)
    except InputError as exc:
        channel.refused["unsigned" if "unsigned" in str(exc) else "refused"] += 1
        return {"id": _payload_id(raw), "ok": False, "error": f"refused: {exc}"}
    try:
        reply = handle(command)
    except Exception as exc:  # a bug in a handler must not end the listener
        channel.failures += 1
        log.exception("mqtt_command_failed", error=type(exc).__name__)
        return {"id": None, "ok": False, "error": f"internal error: {type(exc).__name__}"}
    channel.handled += 1
    return reply


async def serve_commands(
    config: MqttConfig,
    handle: Callable[[bytes], dict[str, Any]],
    gate: CommandGate,
    channel: CommandChannel,
) -> None:
    password = os.environ.get(config.password_env) if config.password_env else None
    # Unique per daemon: another client taking a fixed id would knock this one off the broker.
    identifier = f"{config.client_id}-cmd-{secrets.token_hex(4)}"
    delay = 0.5
    while True:
        try:
            async with aiomqtt.Client(
                config.host,
                config.port,
                identifier=identifier,
                username=config.username,
                password=password,
                timeout=10,
            ) as client:
                await client.subscribe(f"{config.prefix}/cmd", qos=1)
                channel.connected = True
                log.info("mqtt_commands_ready", topic=f"{config.prefix}/cmd")
                delay = 0.5
                async for message in client.messages:
                    payload = message.payload
                    raw = payload if isinstance(payload, bytes) else str(payload).encode()
                    reply = answer(raw, gate, handle, channel, int(time.time() * 1000))
                    topic = _reply_topic(config.prefix, reply)
                    await client.publish(topic, orjson.dumps(reply), qos=1)
        except aiomqtt.MqttError as exc:
            channel.connected = False
            log.warning(
                "mqtt_commands_unavailable",
                host=config.host,
                port=config.port,
                error=str(exc),
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay * random.uniform(1.0, 1.5))  # noqa: S311 — jitter
            delay = min(delay * 2, 30.0)
