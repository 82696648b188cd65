"""aiomqtt's client, writing each outgoing packet as soon as it is queued.

aiomqtt 2.5 hands every outgoing packet to the event loop: paho asks for a writer, aiomqtt
schedules `add_writer` with `call_soon_threadsafe` (a wake-up through the loop's self-pipe), and
the packet leaves two loop turns later. From `publish` to the bytes sent, in a loop of
publishes 2 ms apart on a 2-core machine (2026-12-01): 177 µs at the median that way, 76 µs
written at once (half of it paho building the packet, half the `send`).

On the event loop's own thread the packet can go at once, as paho itself does when nobody runs a
loop for it. Only what the socket does not take waits for a writer, the aiomqtt way. Calls from
another thread (paho connects in an executor thread) and calls made while paho is inside one of
its callbacks (it would deadlock on its own lock) take aiomqtt's path unchanged.

It also turns Nagle's algorithm off on the connection (paho leaves it on): an alert is a small
packet written on its own, and Nagle holds it while an earlier packet is not yet acknowledged at
the TCP level; a QoS 0 position update is never answered, so that can be the broker's delayed
ACK, 40 ms on Linux. Seen on 2026-12-01 in the other direction (a broker without
`set_tcp_nodelay`): the first alerts of a run reached the subscriber 20–25 ms late.

This overrides two private methods of aiomqtt, pinned in uv.lock;
`tests/alerts/test_eager_client.py` fails if aiomqtt or paho no longer have what it relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt


class EagerClient(aiomqtt.Client):
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # A websocket or proxy transport may hand over a wrapper without socket options.
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._on_socket_open(client, userdata, sock)

    def _on_socket_register_write(
        self,
        client: mqtt.Client,
        userdata: Any,
        sock: Any,  # paho's socket or a socket-like wrapper (TLS, websockets)
    ) -> None:
        if not self._on_loop_thread() or not _outside_callbacks(client):
            super()._on_socket_register_write(client, userdata, sock)
            return
        try:
            client.loop_write()
        except Exception as exc:  # aiomqtt's own rule: a failed write ends the session
            if not self._disconnected.done():
                self._disconnected.set_exception(exc)
            return
        if client.want_write():  # the socket took part of it: the rest when it is writable
            super()._on_socket_register_write(client, userdata, sock)

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False


def _outside_callbacks(client: mqtt.Client) -> bool:
    """paho writes at once only when it is not inside a callback, as its `_packet_queue`
    checks: finishing a QoS 0 publish takes this (non-reentrant) lock."""
    mutex = client._in_callback_mutex
    if not mutex.acquire(blocking=False):
        return False
    mutex.release()
    return True
