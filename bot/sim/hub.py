"""Subscriptions and per-connection delivery, with the venues' snapshot rules.

Bybit sends every subscriber a snapshot of `tickers.<symbol>` first, then deltas; the hub keeps
the merged ticker per topic so a late (or reconnected) subscriber gets a fresh snapshot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(eq=False)
class Subscriber:
    venue: str
    number: int  # the n-th connection to this venue's endpoint
    endpoint: str = ""  # Binance: "public" or "market"
    raw: bool = False  # Binance ws mode: payloads without the combined-stream envelope
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=50_000))
    topics: set[str] = field(default_factory=set)
    unserved: set[str] = field(default_factory=set)  # asked for on an endpoint that lacks them
    snapshotted: set[str] = field(default_factory=set)
    dropped: int = 0

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1  # a client this slow would be cut off by the venue too


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.tickers: dict[str, dict[str, Any]] = {}  # Bybit topic -> merged ticker message

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def subscribe(self, subscriber: Subscriber, topics: list[str]) -> None:
        subscriber.topics.update(topics)
        for topic in topics:
            if topic in self.tickers and topic not in subscriber.snapshotted:
                subscriber.snapshotted.add(topic)
                subscriber.offer(self._snapshot(topic))

    def publish(self, venue: str, topic: str, text: str) -> None:
        is_ticker = venue == "bybit" and topic.startswith("tickers.")
        if is_ticker:
            self._merge(topic, text)
        for subscriber in self.subscribers:
            if subscriber.venue != venue or topic not in subscriber.topics:
                continue
            if is_ticker and topic not in subscriber.snapshotted:
                subscriber.snapshotted.add(topic)
                subscriber.offer(self._snapshot(topic))
            else:
                subscriber.offer(text)

    def _merge(self, topic: str, text: str) -> None:
        message = orjson.loads(text)
        if message.get("type") == "snapshot" or topic not in self.tickers:
            self.tickers[topic] = message
        else:
            merged = self.tickers[topic]
            merged["data"].update(message["data"])
            merged["ts"], merged["cs"] = message.get("ts"), message.get("cs")

    def _snapshot(self, topic: str) -> str:
        return orjson.dumps({**self.tickers[topic], "type": "snapshot"}).decode()
