"""Fault injection for the simulator, per connection or for every connection.

[[fault]]
action = "drop"       # drop | stall | malformed | truncate | duplicate | reorder |
                      # refuse_429 | close_after | rate_limit_frame
connection = 1        # the n-th connection to the venue's endpoint (1 = first); omit: all
venue = "binance"     # omit: every venue
endpoint = "market"   # Binance: "public" or "market"; omit: every endpoint
after_s = 2.0         # seconds after the connection opened, or
at_s = 30.0           # by schedule: seconds after the simulator started
duration_s = 5.0      # stall: how long to stay silent (0 = until the client leaves)
count = 1             # malformed/truncate/duplicate/reorder: frames affected
retry_after = 1       # refuse_429: the Retry-After header, seconds
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

ACTIONS = frozenset(
    {
        "drop",
        "stall",
        "malformed",
        "truncate",
        "duplicate",
        "reorder",
        "refuse_429",
        "close_after",
        "rate_limit_frame",
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    action: str
    connection: int | None = None
    venue: str | None = None
    after_s: float = 0.0
    at_s: float | None = None  # by schedule: seconds after the simulator started, instead
    duration_s: float = 0.0
    count: int = 1
    retry_after: int = 1
    endpoint: str | None = None

    def applies(self, venue: str, connection: int, endpoint: str = "") -> bool:
        return (
            (self.venue is None or self.venue == venue)
            and (self.endpoint is None or self.endpoint == endpoint)
            and (self.connection is None or self.connection == connection)
        )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    faults: tuple[Fault, ...] = ()

    def for_connection(self, venue: str, connection: int, endpoint: str = "") -> list[Fault]:
        return [f for f in self.faults if f.applies(venue, connection, endpoint)]

    def refuses(self, venue: str, connection: int, endpoint: str = "") -> Fault | None:
        return next(
            (
                f
                for f in self.for_connection(venue, connection, endpoint)
                if f.action == "refuse_429"
            ),
            None,
        )


def fault_from_dict(raw: dict[str, Any], where: str) -> Fault:
    names = {f.name for f in fields(Fault)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown fault key {unknown[0]!r}; expected {sorted(names)}")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ConfigError(f"{where}: fault action {action!r}; expected one of {sorted(ACTIONS)}")
    try:
        return Fault(**raw)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_faults(path: Path) -> FaultPlan:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read fault plan {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    items = raw.get("fault", [])
    if not isinstance(items, list):
        raise ConfigError(f"{path}: faults are [[fault]] tables")
    return FaultPlan(
        tuple(fault_from_dict(item, f"{path} fault {i + 1}") for i, item in enumerate(items))
    )
