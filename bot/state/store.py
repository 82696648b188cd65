"""Crash-safe state: a write-ahead journal of the engine's inputs and snapshots of the engine.

The engine is deterministic, so its state is exactly "the snapshot, then every input journaled
after it". Every input that can change a ledger (market data the engine reads, trader and
strategy commands, instruments loaded at start) is written to the journal *before* the engine
sees it, so nothing the daemon has published can be missing after a crash.

On disk, one directory:

    accounts                  the digest of the [[accounts]] this state belongs to
    lock                      held (flock) by the running daemon
    journal-<first seq>.log   records: length, CRC-32 and sequence number, then the input
    snapshot-<seq>.bin        magic, SHA-256, then the engine as of input <seq>

A record is one `write()` to a file opened with O_APPEND: once it returns, the bytes are in the
kernel and survive a killed process. `synchronous = "full"` adds an fsync per write, which also
survives a power cut (milliseconds on most disks). A torn record at the very end of the journal
(the process died inside the write, before the engine applied it) is cut off on recovery; damage
anywhere else stops the recovery with a message: nothing is guessed.

Snapshots (written to a temporary file, fsynced, then renamed) bound the recovery time; the two
newest are kept, and the journal before the older one is deleted unless `keep_journal`.

The snapshot and the records are pickles: private files this daemon wrote itself, never data
from elsewhere (pickle must not read untrusted bytes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import itertools
import os
import pickle
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.engine import Engine, Input
from bot.errors import ConfigError, MarginbotError, StateError
from bot.files import private_dir, private_file
from bot.state.quarantine import Quarantine

RECORD = struct.Struct(">IIQ")  # payload length, CRC-32 of the payload, sequence number
SNAPSHOT_MAGIC = b"MBSNAP1\n"
KEEP_SNAPSHOTS = 2  # the newest, and one before it in case the newest is damaged


@dataclass(frozen=True, slots=True)
class Recovery:
    engine: Engine
    snapshot_seq: int  # 0: no snapshot, the engine was built from the configuration
    replayed: int  # journaled inputs applied after the snapshot
    seconds: float
    cut_bytes: int = 0  # a torn last record, removed
    quarantined: int = 0  # journaled inputs that broke the engine, skipped (quarantine.py)

    def describe(self, where: Path) -> str:
        if self.snapshot_seq == 0 and self.replayed == 0:
            return f"state: new in {where}"
        start = f"snapshot at input {self.snapshot_seq}" if self.snapshot_seq else "the start"
        torn = f"; cut a torn last record ({self.cut_bytes} bytes)" if self.cut_bytes else ""
        skipped = (
            f"; skipped {self.quarantined} quarantined inputs (see {where / 'quarantine.jsonl'})"
            if self.quarantined
            else ""
        )
        return (
            f"state: recovered from {where}: {start} + {self.replayed} journaled inputs "
            f"in {self.seconds * 1000:.0f} ms{torn}{skipped}"
        )


def _seq_of(path: Path) -> int:
    return int(path.stem.split("-", 1)[1])


class StateStore:
    def __init__(
        self,
        directory: Path,
        accounts_digest: str,
        *,
        fsync: bool = False,
        keep_journal: bool = False,
    ) -> None:
        private_dir(directory)
        self.directory = directory
        self.fsync = fsync
        self.keep_journal = keep_journal
        self._fd: int | None = None
        self._lock = (directory / "lock").open("w")
        private_file(directory / "lock")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ConfigError(
                f"{directory} is in use by another running marginbot; stop it, or give this "
                "one another [state] directory"
            ) from None
        self._claim(accounts_digest)
        self.seq = 0
        self.cut_bytes = 0
        self.appended = 0
        self.snapshots = 0

    def _claim(self, digest: str) -> None:
        """A state belongs to one accounts configuration: recovering it into other accounts
        would invent or lose money."""
        marker = self.directory / "accounts"
        if not marker.exists():
            marker.write_text(digest + "\n")
            private_file(marker)
        elif marker.read_text().strip() != digest:
            self.close()
            raise ConfigError(
                f"{self.directory} holds the state of other [[accounts]] than this "
                "configuration's; restore the accounts it was made with, or move the directory "
                "away to start fresh"
            )

    # -- writing -------------------------------------------------------------------------------

    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        path = self.directory / f"journal-{self.seq + 1:012d}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, inputs: Iterable[Input]) -> None:
        """Journal inputs in one write; only after it returns may the engine apply them."""
        chunks = []
        for item in inputs:
            self.seq += 1
            data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            chunks.append(RECORD.pack(len(data), zlib.crc32(data), self.seq))
            chunks.append(data)
        if not chunks:
            return
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        os.write(self._fd, b"".join(chunks))
        if self.fsync:
            os.fsync(self._fd)
        self.appended += len(chunks) // 2

    def snapshot(self, engine: Engine) -> None:
        """The engine as of the last journaled input; then a new journal segment begins."""
        data = pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL)
        final = self.directory / f"snapshot-{self.seq:012d}.bin"
        temporary = final.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(SNAPSHOT_MAGIC + hashlib.sha256(data).digest() + data)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself is durable
        finally:
            os.close(directory)
        self._open_segment()
        self.snapshots += 1
        self._prune()

    def _prune(self) -> None:
        snapshots = sorted(self.directory.glob("snapshot-*.bin"), key=_seq_of, reverse=True)
        for old in snapshots[KEEP_SNAPSHOTS:]:
            old.unlink()
        if self.keep_journal or len(snapshots) < KEEP_SNAPSHOTS:
            return
        oldest_kept = _seq_of(snapshots[KEEP_SNAPSHOTS - 1])
        segments = self._segments()
        for segment, following in itertools.pairwise(segments):
            if _seq_of(following) <= oldest_kept + 1:
                segment.unlink()  # every record in it is in the oldest snapshot kept

    # -- reading -------------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("journal-*.log"), key=_seq_of)

    def records(self, after: int = 0) -> Iterator[tuple[int, Input]]:
        """(seq, input) of every journaled input after `after`, in order; a torn last record
        is cut off the file."""
        segments = self._segments()
        expected = after + 1
        for index, segment in enumerate(segments):
            if index + 1 < len(segments) and _seq_of(segments[index + 1]) <= expected:
                continue  # every record in it is at or before `after`
            data = segment.read_bytes()
            offset = 0
            while offset < len(data):
                header = data[offset : offset + RECORD.size]
                if len(header) == RECORD.size:
                    length, crc, seq = RECORD.unpack(header)
                    payload = data[offset + RECORD.size : offset + RECORD.size + length]
                    whole = len(payload) == length and zlib.crc32(payload) == crc
                else:
                    whole = False
                if not whole:
                    if index == len(segments) - 1:
                        self.cut_bytes = len(data) - offset
                        with segment.open("r+b") as torn:
                            torn.truncate(offset)
                        return
                    raise StateError(
                        f"{segment} is damaged at byte {offset}; the inputs after it cannot "
                        "be recovered. Move the state directory away to start fresh"
                    )
                offset += RECORD.size + length
                if seq < expected:
                    continue
                if seq != expected:
                    raise StateError(
                        f"{segment}: the journal jumps from input {expected - 1} to {seq}; "
                        "the inputs between are gone. Move the state directory away to start "
                        "fresh"
                    )
                expected += 1
                yield seq, _loads(payload)

    def _newest_snapshot(self) -> tuple[int, Engine | None]:
        for path in sorted(self.directory.glob("snapshot-*.bin"), key=_seq_of, reverse=True):
            data = path.read_bytes()
            head = len(SNAPSHOT_MAGIC)
            body = data[head + 32 :]
            if data[:head] == SNAPSHOT_MAGIC and hashlib.sha256(body).digest() == data[head:][:32]:
                return _seq_of(path), _loads(body)
        return 0, None

    def recover(
        self, fresh: Callable[[], Engine], quarantine: Quarantine | None = None
    ) -> Recovery:
        """The engine as it stood after the last journaled input. An input that breaks the
        engine (a bug) is skipped exactly as the live daemon skipped it, and kept in
        `quarantine`: a restart never fails on it."""
        started = time.perf_counter()
        self.cut_bytes = 0
        seq, engine = self._newest_snapshot()
        if engine is None:
            engine = fresh()
        self.seq = seq
        replayed = skipped = 0
        for number, item in self.records(after=seq):
            try:
                engine.step(item)
            except MarginbotError:
                pass  # refused when it arrived too (bad input, a refused command): same state
            except Exception as exc:
                skipped += 1
                if quarantine is not None:
                    quarantine.keep(time.time_ns(), type(item).__name__, item, exc, number)
            self.seq = number
            replayed += 1
        self._open_segment()
        return Recovery(
            engine,
            seq,
            replayed,
            time.perf_counter() - started,
            cut_bytes=self.cut_bytes,
            quarantined=skipped,
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


# Where the core's modules were before they moved into rooms (2026-12): a state written then
# names its classes by these paths.
MOVED = {
    "bot.core.ledger": "bot.core.ledger.account",
    "bot.core.positions": "bot.core.ledger.positions",
    "bot.core.position_index": "bot.core.ledger.position_index",
    "bot.core.cross_totals": "bot.core.ledger.cross_totals",
    "bot.core.liquidation": "bot.core.ledger.liquidation",
    "bot.core.figures": "bot.core.ledger.figures",
    "bot.core.risk": "bot.core.ledger.risk",
    "bot.core.margin": "bot.core.ledger.margin",
    "bot.core.margin.binance": "bot.core.ledger.margin.binance",
    "bot.core.margin.bybit": "bot.core.ledger.margin.bybit",
    "bot.core.margin.common": "bot.core.ledger.margin.common",
    "bot.core.orders": "bot.core.orders.model",
    "bot.core.pretrade": "bot.core.orders.pretrade",
    "bot.core.triggers": "bot.core.orders.triggers",
    "bot.core.execution": "bot.core.orders.desk",
    "bot.core.alerts": "bot.core.alerting.alert",
    "bot.core.bands": "bot.core.speed.bands",
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def _loads(data: bytes) -> Any:
    """Our own file (see the module's docstring), with the classes of older versions found
    where they are now."""
    return _Unpickler(io.BytesIO(data)).load()
