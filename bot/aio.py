"""Small asyncio helpers."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until `event` is set or `timeout` passes; True when it was set.

    Unlike `asyncio.wait_for` on Python 3.11, this never swallows a cancellation that arrives
    while the event is being set (CPython gh-86296, fixed in 3.12): loops that are stopped by
    cancelling them really stop.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        if not waiter.done():
            waiter.cancel()
    return event.is_set()
