"""Feed health events: what the connection manager reports besides prices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedConnected:
    venue: str
    conn: str
    url: str
    attempt: int
    ts: int


@dataclass(frozen=True, slots=True)
class FeedDisconnected:
    venue: str
    conn: str
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class FeedStale:
    """No frame for `silent_s` seconds: the connection is recycled."""

    venue: str
    conn: str
    silent_s: float
    ts: int


@dataclass(frozen=True, slots=True)
class FeedRecovered:
    """Data flows again after a stale period or a disconnect."""

    venue: str
    conn: str
    outage_s: float
    ts: int


@dataclass(frozen=True, slots=True)
class FeedBackoff:
    """The next connection attempt waits `delay_s`; `rate_limited` when the venue said 429/418."""

    venue: str
    delay_s: float
    rate_limited: bool
    reason: str
    ts: int


FeedEvent = FeedConnected | FeedDisconnected | FeedStale | FeedRecovered | FeedBackoff
