"""EagerClient writes a packet in the publishing call itself, through a real broker; and what it
borrows from aiomqtt and paho is still there (a dependency update that removes it fails here)."""

from __future__ import annotations

import asyncio
import socket
import threading

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bot.alerts.eager_client import EagerClient


def test_what_the_override_relies_on_still_exists() -> None:
    assert callable(aiomqtt.Client._on_socket_register_write)
    assert callable(aiomqtt.Client._on_socket_open)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    assert isinstance(client._in_callback_mutex, type(threading.Lock()))
    assert callable(client.loop_write)
    assert callable(client.want_write)


async def received(port: int, topic: str, count: int, ready: asyncio.Event) -> list[bytes]:
    async with aiomqtt.Client("127.0.0.1", port, identifier="eager-sub") as sub:
        await sub.subscribe(topic, qos=1)
        ready.set()
        payloads = []
        async for message in sub.messages:
            payloads.append(bytes(message.payload))
            if len(payloads) == count:
                return payloads
    return []


async def test_a_publish_leaves_before_the_publishing_task_yields(mosquitto: int) -> None:
    ready = asyncio.Event()
    listening = asyncio.create_task(received(mosquitto, "eager/#", 3, ready))
    await ready.wait()
    async with EagerClient("127.0.0.1", mosquitto, identifier="eager-pub") as client:
        paho = client._client
        for n, qos in enumerate((0, 1, 1)):
            info = paho.publish(f"eager/{n}", f"m{n}".encode(), qos=qos)
            assert not paho.want_write(), "the packet waited for the event loop"
            if qos == 0:
                assert info.is_published()
        await client.publish("eager/x", b"via aiomqtt", qos=1, timeout=5)  # its PUBACK arrives
    payloads = await asyncio.wait_for(listening, 10)
    assert payloads == [b"m0", b"m1", b"m2"]


async def test_plain_aiomqtt_defers_the_same_write(mosquitto: int) -> None:
    """The control: without the override the packet is still queued when publish returns."""
    async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="plain-pub") as client:
        client._client.publish("plain/0", b"m", qos=1)
        assert client._client.want_write()


async def test_the_connection_does_not_wait_for_nagle(mosquitto: int) -> None:
    async with EagerClient("127.0.0.1", mosquitto, identifier="nodelay") as client:
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    async with aiomqtt.Client("127.0.0.1", mosquitto, identifier="nagle") as plain:
        sock = plain._client.socket()
        assert isinstance(sock, socket.socket)
        assert not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # the control
