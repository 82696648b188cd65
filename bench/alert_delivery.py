"""Alert delivery latency: enqueue (outbox write) → MQTT publish (QoS 1) → receipt by the
subscriber in its own process (`bench.phone`), through a private Mosquitto on loopback.

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

from bench.common import latency_figures
from bench.phone import Phone
from bot.alerts.broker import PrivateBroker
from bot.alerts.outbox import Outbox
from bot.alerts.publisher import AccountPublisher
from bot.config import MqttConfig
from bot.core.alerting.alert import Alert, Severity


async def measure(count: int, directory: Path, port: int) -> list[float]:
    sent: dict[str, float] = {}
    async with Phone(port, "bench/+/alert/#", count) as phone:
        publisher = AccountPublisher(
            MqttConfig(port=port, prefix="bench", client_id="bench"),
            "a",
            Outbox(directory / "outbox.sqlite"),
            0,
        )
        running = asyncio.create_task(publisher.run())
        try:
            while not publisher.stats.connected:
                await asyncio.sleep(0.01)
            for n in range(count):
                sent[str(n)] = time.perf_counter()
                alert = Alert(
                    "liquidation_risk", Severity.WARNING, n, "a", "BTCUSDT", "x", (("n", str(n)),)
                )
                publisher.enqueue(alert)
                await asyncio.sleep(0.001)  # alerts arrive one by one, as ticks do
            received = await phone.received(timeout_s=60)
        finally:
            running.cancel()
    return [(at - sent[payload["details"]["n"]]) * 1e3 for at, payload in received]


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
