"""Inputs that broke the engine, kept aside so that the engine (and every restart) goes on.

An input that raises anything but a `MarginbotError` inside the engine is a bug. The daemon
does not stop on it: the input is written here (JSON Lines, owner-only), named in a critical
alert and the log, and skipped; the engine goes on with the next input. A recovery that meets
the same journaled input skips it the same way, so the ledger after a restart is the ledger the
daemon had. The file is the bug report: it holds the input as the engine saw it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

MAX_FILE_BYTES = 16 * 2**20  # past this, inputs are counted, not kept
MAX_VALUE_CHARS = 4000


@dataclass
class Quarantine:
    path: Path | None  # None: the daemon keeps no state; count only
    count: int = 0
    last: str | None = None  # the newest, in words
    kinds: set[tuple[str, str]] = field(default_factory=set)  # (input kind, error class) seen

    def keep(
        self, ts: int, kind: str, value: object, error: BaseException, seq: int | None
    ) -> bool:
        """Record one input; True the first time this kind of input met this kind of error
        (the daemon alerts then, not on every repeat)."""
        self.count += 1
        reason = f"{type(error).__name__}: {error}"
        self.last = f"a {kind} input: {reason}"
        if self.path is not None:
            record = {
                "ts": ts,
                "journal_seq": seq,
                "input": kind,
                "value": repr(value)[:MAX_VALUE_CHARS],
                "error": reason[:MAX_VALUE_CHARS],
            }
            with contextlib.suppress(OSError):  # a full disk must not turn a bug into a crash
                self._append(orjson.dumps(record) + b"\n")
        first = (kind, type(error).__name__) not in self.kinds
        self.kinds.add((kind, type(error).__name__))
        return first

    def _append(self, line: bytes) -> None:
        assert self.path is not None
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size + len(line) > MAX_FILE_BYTES:
                return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
