"""Reading and writing session files, with size-based rotation for the recorder."""

from __future__ import annotations

import gzip
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from bot.files import private_dir
from bot.session.format import FORMAT, VERSION, SessionFormatError, SessionHeader


def _gzip(raw: IO[bytes]) -> gzip.GzipFile:
    # No name and mtime=0 in the gzip header: an imported session is reproducible to the byte.
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)


class SessionWriter:
    """Appends records to one session file. Not thread-safe; one writer per file."""

    def __init__(self, path: Path, header: SessionHeader) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        # Owner-only: a session holds every command the trader gave.
        self._raw: IO[bytes] = os.fdopen(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
        )
        self._out: IO[bytes] | gzip.GzipFile = (
            _gzip(self._raw) if path.suffix == ".gz" else self._raw
        )
        self.bytes_written = 0
        self.records = 0
        self._write(header.to_json())

    def _write(self, document: dict[str, Any]) -> None:
        line = orjson.dumps(document) + b"\n"
        self._out.write(line)
        self.bytes_written += len(line)

    def write(self, record: dict[str, Any]) -> None:
        self._write(record)
        self.records += 1

    def recv(self, conn: str, ts: int, data: str) -> None:
        self.write({"t": "recv", "conn": conn, "ts": ts, "data": data})

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()
        if self._out is not self._raw:
            self._raw.close()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FLUSH_EVERY_S = 1.0
MAX_LINE = 16 * 2**20  # a REST depth snapshot of 1,000 levels is ~100 KB


@dataclass
class RotatingRecorder:
    """Writes a session under a directory, starting a new file past `max_bytes`.

    Each file is a complete session with its own header (`source.part` counts the parts), so any
    file replays on its own. What is written reaches the file at least every `FLUSH_EVERY_S`
    (on the next write, or from the daemon's `flush_if_due` timer) and at once after a trader
    command, so a `kill -9` loses at most about a second of market data and no command: a
    gzip stream flushed this way is readable up to its last flush (SessionReader).
    """

    directory: Path
    header: SessionHeader
    max_bytes: int = 256 * 1024 * 1024
    compress: bool = True
    _writer: SessionWriter | None = None
    _part: int = 0
    _flushed_at: float = 0.0
    _dirty: bool = False
    lost: int = 0  # records that could not be written (a full disk)
    records: int = 0  # records written so far, in every part: the last one's ordinal
    error: str | None = None  # why the last write failed, until one succeeds

    def _file(self) -> SessionWriter:
        if self._writer is None or self._writer.bytes_written >= self.max_bytes:
            if self._writer is not None:
                self._writer.close()
            self._part += 1
            private_dir(self.directory)
            stamp = self.header.start_time_ns // 1_000_000_000
            suffix = ".jsonl.gz" if self.compress else ".jsonl"
            path = self.directory / f"session-{stamp}-{self._part:03d}{suffix}"
            header = SessionHeader(
                self.header.venues,
                self.header.symbols,
                self.header.start_time_ns,
                self.header.marginbot_version,
                self.header.config_digest,
                # The ordinal of this part's first record is first_record + 1: inputs keep
                # the same keys (and their alerts the same ids) whichever part is replayed.
                {**self.header.source, "part": self._part, "first_record": self.records - 1},
            )
            self._writer = SessionWriter(path, header)
        return self._writer

    @property
    def path(self) -> Path | None:
        return self._writer.path if self._writer else None

    def write(self, record: dict[str, Any]) -> None:
        """Never raises for the disk: a recording that cannot be written (a full disk) loses
        records, counted in `lost` with the reason in `error`; the feed and the engine go on,
        and the journal still has every input."""
        self.records += 1
        try:
            self._file().write(record)
            self._dirty = True
            if record.get("t") == "command":
                self.flush()
            else:
                self.flush_if_due()
        except OSError as exc:
            self.lost += 1
            self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
            return
        self.error = None

    def flush_if_due(self) -> None:
        if self._dirty and time.monotonic() - self._flushed_at >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        self._dirty = False
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@dataclass
class SessionReader:
    """Reads a session: `header` first, then `records()` in order.

    A last line cut short by a crash is tolerated (counted in `truncated_tail`); a broken line
    anywhere else is an error, because the file was damaged, not merely interrupted.
    """

    path: Path
    truncated_tail: int = 0

    def _lines(self) -> Iterator[bytes]:
        """The file's lines, each read with a bounded buffer: a line longer than MAX_LINE (a
        gzip bomb of one endless line, say) is refused, never held whole in memory."""
        opener = gzip.open if self.path.suffix == ".gz" else open
        try:
            source = opener(self.path, "rb")
        except OSError as exc:
            raise SessionFormatError(f"cannot read {self.path}: {exc.strerror}") from None
        number = 0
        with source as raw:
            while True:
                try:
                    line = raw.readline(MAX_LINE + 1)
                except EOFError:
                    # A gzip stream cut by a crash: the lines read so far stand.
                    self.truncated_tail += 1
                    return
                except (OSError, zlib.error) as exc:
                    raise SessionFormatError(
                        f"{self.path}: cannot read past line {number}: "
                        f"{'not a gzip file' if number == 0 else 'the compressed data is damaged'}"
                        f" ({exc})"
                    ) from None
                if not line:
                    return
                number += 1
                if len(line) > MAX_LINE:
                    raise SessionFormatError(
                        f"{self.path}: line {number} is longer than {MAX_LINE // 2**20} MB; "
                        "this is not a session a recorder wrote"
                    )
                yield line

    def header(self) -> dict[str, Any]:
        for line in self._lines():
            return self._header(line)
        raise SessionFormatError(f"{self.path} is empty")

    def _header(self, line: bytes) -> dict[str, Any]:
        try:
            header = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise SessionFormatError(f"{self.path}: the first line is not JSON") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SessionFormatError(f"{self.path} is not a {FORMAT} file")
        if header.get("version") != VERSION:
            raise SessionFormatError(
                f"{self.path}: {FORMAT} version {header.get('version')} is not supported "
                f"(this marginbot reads version {VERSION})"
            )
        return header

    def records(self) -> Iterator[dict[str, Any]]:
        lines = self._lines()
        first = next(lines, None)
        if first is None:
            raise SessionFormatError(f"{self.path} is empty")
        self._header(first)
        pending: bytes | None = None
        number = 1
        for line in lines:
            if pending is not None:
                yield self._record(pending, number)
            pending = line
            number += 1
        if pending is not None:
            if not pending.endswith(b"\n"):
                try:
                    record = orjson.loads(pending)
                except orjson.JSONDecodeError:
                    self.truncated_tail += 1
                    return
                yield record
            else:
                yield self._record(pending, number)

    def _record(self, line: bytes, number: int) -> dict[str, Any]:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise SessionFormatError(f"{self.path}: line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            raise SessionFormatError(f"{self.path}: line {number} is not a JSON object")
        return record
