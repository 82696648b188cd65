"""The `marginbot-session` v1 format (documented in docs/session-format.md).

JSON Lines, optionally gzip-compressed. Line 1 is the header; every later line is one record in
arrival order, with `t` (kind), `ts` (local time, integer nanoseconds) and, for connection
records, `conn` (connection id):

    {"t":"connect","conn":"binance.1","ts":…,"venue":"binance","url":"wss://…"}
    {"t":"send","conn":"binance.1","ts":…,"data":"<frame text>"}
    {"t":"recv","conn":"binance.1","ts":…,"data":"<frame text, verbatim>"}
    {"t":"disconnect","conn":"binance.1","ts":…,"reason":"…"}
    {"t":"http","conn":"binance.http","ts":…,"method":"GET","url":"…","status":200,"data":"…"}
    {"t":"command","ts":…,"data":{…}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.errors import InputError

FORMAT = "marginbot-session"
VERSION = 1


@dataclass(frozen=True, slots=True)
class SessionHeader:
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    start_time_ns: int
    marginbot_version: str
    config_digest: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "venues": list(self.venues),
            "symbols": list(self.symbols),
            "start_time_ns": self.start_time_ns,
            "marginbot_version": self.marginbot_version,
            "config_digest": self.config_digest,
        }
        if self.source:
            document["source"] = self.source
        return document


class SessionFormatError(InputError):
    """The file is not a marginbot session, or a line in its middle is broken."""
