"""Commands over MQTT: requests on `<prefix>/cmd`, replies on `<prefix>/reply/<id>`.

The daemon never waits on the broker: this task reconnects with backoff on its own, and a
broker that is down only delays remote commands.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from typing import Any

import aiomqtt
import orjson
import structlog

from bot.config import MqttConfig

log = structlog.get_logger("marginbot.mqtt")


async def serve_commands(config: MqttConfig, handle: Callable[[bytes], dict[str, Any]]) -> None:
    password = os.environ.get(config.password_env) if config.password_env else None
    delay = 0.5
    while True:
        try:
            async with aiomqtt.Client(
                config.host,
                config.port,
                identifier=f"{config.client_id}-cmd",
                username=config.username,
                password=password,
                timeout=10,
            ) as client:
                await client.subscribe(f"{config.prefix}/cmd", qos=1)
                log.info("mqtt_commands_ready", topic=f"{config.prefix}/cmd")
                delay = 0.5
                async for message in client.messages:
                    payload = message.payload
                    raw = payload if isinstance(payload, bytes) else str(payload).encode()
                    reply = handle(raw)
                    topic = f"{config.prefix}/reply/{reply.get('id') or 'anonymous'}"
                    await client.publish(topic, orjson.dumps(reply), qos=1)
        except aiomqtt.MqttError as exc:
            log.warning(
                "mqtt_commands_unavailable",
                host=config.host,
                port=config.port,
                error=str(exc),
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay * random.uniform(1.0, 1.5))  # noqa: S311 — jitter
            delay = min(delay * 2, 30.0)
