"""Alert delivery latency: enqueue (outbox write) → MQTT publish (QoS 1) → subscriber receipt,
through a private Mosquitto on loopback.

    python -m bench.alert_delivery [--quick]

This is the publishing leg of tick-to-alert; the engine and rules before it cost microseconds
(`bench.triggers`). Issue 8 adds the full frame-to-subscriber figure.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiomqtt
import orjson

from bench.common import latency_figures
from bot.alerts.broker import PrivateBroker
from bot.alerts.outbox import Outbox
from bot.alerts.publisher import AccountPublisher
from bot.config import MqttConfig
from bot.core.alerts import Alert, Severity


async def measure(count: int, directory: Path, port: int) -> list[float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def subscribe() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-sub") as client:
            await client.subscribe("bench/+/alert/#", qos=1)
            async for message in client.messages:
                payload = orjson.loads(message.payload)
                number = payload["details"]["n"]
                latencies.append((time.perf_counter() - sent[number]) * 1e3)
                if len(latencies) == count:
                    done.set()

    listening = asyncio.create_task(subscribe())
    await asyncio.sleep(0.3)
    publisher = AccountPublisher(
        MqttConfig(port=port, prefix="bench", client_id="bench"),
        "a",
        Outbox(directory / "outbox.sqlite"),
        0,
    )
    running = asyncio.create_task(publisher.run())
    while not publisher.stats.connected:
        await asyncio.sleep(0.01)
    for n in range(count):
        sent[str(n)] = time.perf_counter()
        publisher.enqueue(
            Alert("liquidation_risk", Severity.WARNING, n, "a", "BTCUSDT", "x", (("n", str(n)),))
        )
        await asyncio.sleep(0.001)  # alerts arrive one by one, as ticks do
    await asyncio.wait_for(done.wait(), 60)
    running.cancel()
    listening.cancel()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    count = 200 if parser.parse_args().quick else 2_000
    with tempfile.TemporaryDirectory() as tmp, PrivateBroker(Path(tmp)) as broker:
        latencies = asyncio.run(measure(count, Path(tmp), broker.port))
    latency_figures("alert_delivery", latencies, alerts=count, qos=1,
                    path="outbox → MQTT → subscriber")  # fmt: skip


if __name__ == "__main__":
    main()
