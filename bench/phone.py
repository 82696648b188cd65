"""The trader's phone, for the latency benchmarks: an MQTT subscriber in its own process.

It subscribes at QoS 1, says `ready` on stdout once the broker has granted the subscription,
notes `time.perf_counter()` in paho's `on_message` (the moment the client library has the
message) for each of `count` messages, then prints them as one JSON list of
`[perf_counter, payload]` and exits. The payloads are decoded after the clock is read, and after
the last message, so the phone's own work does not add to what it measures.

`perf_counter` is CLOCK_MONOTONIC on Linux, one clock for every process of the machine: the
benchmark compares these times with the ones it took itself.

Its own process, like a phone, because a subscriber inside the benchmark shared one event loop
with the simulator: its `aiomqtt` queue and the loop turn to the `async for` added 0.09 ms at
the median and 0.45 ms at the p99 to every alert (2026-12-01, 10,000 alerts).

    python -m bench.phone HOST PORT TOPIC COUNT

`Phone` is how a benchmark starts it and collects what it received.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    host, port, topic, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    received: list[tuple[float, bytes]] = []
    clock = time.perf_counter

    def on_connect(client: mqtt.Client, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            sys.exit(f"the broker refused the phone: {reason}")
        client.subscribe(topic, qos=1)

    def on_subscribe(*_: Any) -> None:
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    def on_message(client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        received.append((clock(), bytes(message.payload)))
        if len(received) >= count:
            client.disconnect()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-phone")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port)
    client.loop_forever()
    sys.stdout.buffer.write(orjson.dumps([[t, p.decode()] for t, p in received]) + b"\n")


class Phone:
    """The phone as a benchmark uses it: `async with Phone(...)` starts it and returns once the
    broker has granted its subscription; leaving the block kills it if it is still running."""

    def __init__(self, port: int, topic: str, count: int) -> None:
        self.args = ["127.0.0.1", str(port), topic, str(count)]
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Phone:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.phone", *self.args, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        try:
            said = await asyncio.wait_for(self.process.stdout.readline(), 30)
        except BaseException:
            await self.__aexit__()
            raise
        if said != b"ready\n":
            await self.__aexit__()
            raise RuntimeError("the phone did not subscribe")
        return self

    async def received(self, timeout_s: float) -> list[tuple[float, Any]]:
        """(the phone's clock, the decoded payload) of every message, once all have come."""
        assert self.process is not None
        out, _ = await asyncio.wait_for(self.process.communicate(), timeout_s)
        return [(at, orjson.loads(payload)) for at, payload in orjson.loads(out)]

    async def __aexit__(self, *_: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


if __name__ == "__main__":
    main()
