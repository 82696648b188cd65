"""`marginbot run` freezes its start-up heap (bot.daemon.settle_heap); later garbage is still
collected."""

from __future__ import annotations

import gc
import weakref

from bot.daemon import settle_heap


class Node:
    other: Node | None = None


def test_the_start_up_heap_is_frozen_and_later_cycles_are_still_collected() -> None:
    gc.unfreeze()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 1_000  # the modules, at least
        assert gc.get_count()[0] < 100  # a fresh start for the young generation
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle only the collector can reclaim
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
