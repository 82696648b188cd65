"""The durable outbox: an alert is on disk before it is published, and leaves only when the
broker has acknowledged it. After a crash, what is pending is delivered on start, in order.

SQLite in WAL mode; one row per message and account, `seq` keeps the order. Bounded: past
`max_rows` the oldest messages are dropped (the newest alerts matter most), counted in
`dropped`.

The WAL is checkpointed in a worker thread when `CheckpointPolicy` says: after a second without
writes, or after a few thousand written without a pause.

What this process wrote is also kept in memory (up to `MIRROR_LIMIT` rows per account), so the
publisher takes its next message without reading it back: a SELECT was about 30 µs of every
alert's way out. The disk stays the truth: past the limit, or after a start with rows left
over, `pending` reads SQLite until the account's queue fits in memory again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from bot.files import private_dir, private_file

MIRROR_LIMIT = 1_000
MAX_WRITES_BETWEEN_CHECKPOINTS = 4_000  # about 16 MB of WAL


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    account: str
    message_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    def __init__(self, path: Path, max_rows: int = 100_000) -> None:
        private_dir(path.parent)
        self.path = path
        self.max_rows = max_rows
        self.dropped = 0
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        private_file(path)  # the WAL and shared-memory files SQLite adds take its mode
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process, not power loss
        # A checkpoint fsyncs the database (tens of ms on some disks): never on the event loop.
        # The daemon runs `checkpoint` in a worker thread instead (see Daemon).
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        # `seq` is the rowid: a new row gets the largest + 1, which keeps the order. Not
        # AUTOINCREMENT: its bookkeeping page doubled the WAL written per alert (20 → 10 KB) and
        # cost 15–25 µs of every alert's insert. No UNIQUE (account, message_id) either: ids are
        # fresh UUIDs, and its index was half of what every insert and delete wrote (16 → 8 KB
        # of WAL per alert). Files made with either keep working.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, "
            "account TEXT NOT NULL, message_id TEXT NOT NULL, topic TEXT NOT NULL, "
            "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)"
        )
        self.writes = 0  # transactions committed, for the checkpoint policy
        self._delivered: set[int] = set()  # acknowledged, row not yet deleted (see `ack`)
        # Counted once here, then kept in step: COUNT(*) at every alert would cost a scan.
        self._rows: dict[str, int] = dict(
            self._db.execute("SELECT account, COUNT(*) FROM outbox GROUP BY account").fetchall()
        )
        # Each account's pending rows in order, for the accounts in neither set below: those
        # with rows left from an earlier run, or more than MIRROR_LIMIT, are read from disk.
        self._mirror: dict[str, deque[Pending]] = {}
        self._on_disk_only: set[str] = {account for account, n in self._rows.items() if n}

    def add(
        self,
        account: str,
        message_id: str,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
    ) -> bool:
        """Store a message; False when the bound forced the oldest out to make room."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (account, message_id, topic, payload, qos, retain) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, message_id, topic, payload, qos, int(retain)),
        )
        self.writes += 1
        if cursor.rowcount:
            self._rows[account] = self._rows.get(account, 0) + 1
            if account not in self._on_disk_only:
                queue = self._mirror.setdefault(account, deque())
                seq = cursor.lastrowid
                if seq is not None and len(queue) < MIRROR_LIMIT:
                    queue.append(Pending(seq, account, message_id, topic, payload, qos, retain))
                else:
                    self._forget(account)
        excess = self.depth() - self.max_rows
        if excess > 0:
            self.delete_delivered()  # the oldest rows must be undelivered ones
            gone = self._db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?) "
                "RETURNING account, seq",
                (excess,),
            ).fetchall()
            for owner, seq in gone:
                self._removed(owner, seq)
            self.dropped += excess
            return False
        return True

    def _forget(self, account: str) -> None:
        self._mirror.pop(account, None)
        self._on_disk_only.add(account)

    def _removed(self, account: str, seq: int) -> None:
        self._rows[account] -= 1
        queue = self._mirror.get(account)  # none for an account read from disk
        if queue is None:
            return
        if queue and queue[0].seq == seq:
            queue.popleft()  # delivered (or dropped) in order: the usual case
        else:
            self._mirror[account] = deque(p for p in queue if p.seq != seq)

    def pending(self, account: str, limit: int = 100) -> list[Pending]:
        """The account's oldest undelivered messages, in order."""
        if account not in self._on_disk_only:
            queue = self._mirror.get(account)
            return list(islice(queue, limit)) if queue else []
        found = self.pending_on_disk(account, limit)
        if len(found) == self._rows.get(account, 0) and len(found) <= MIRROR_LIMIT:
            self._mirror[account] = deque(found)  # all of it is in hand again
            self._on_disk_only.discard(account)
        return found

    def pending_on_disk(self, account: str, limit: int = 100) -> list[Pending]:
        self.delete_delivered()
        rows = self._db.execute(
            "SELECT seq, account, message_id, topic, payload, qos, retain FROM outbox "
            "WHERE account = ? ORDER BY seq LIMIT ?",
            (account, limit),
        ).fetchall()
        return [
            Pending(seq, acct, mid, topic, bytes(payload), qos, bool(retain))
            for seq, acct, mid, topic, payload, qos, retain in rows
        ]

    def ack(self, *seqs: int) -> None:
        """Take delivered messages off the queue. The oldest message of an account kept in
        memory (the publisher's case) is only noted: its row goes with the next
        `delete_delivered`, which the publisher calls when it pauses. Deleting it at the
        acknowledgement competed for the CPU with the broker still delivering that very alert
        to the subscribers: 0.1 ms of the tick-to-alert p99 (2026-12-01). Until then a crash
        delivers it again, with the same id, as QoS 1 allows. Any other is deleted at once."""
        at_once = []
        for seq in seqs:
            if seq in self._delivered:
                continue  # acknowledged twice
            owner = self._oldest_in_memory(seq)
            if owner is None:
                at_once.append(seq)
            else:
                self._removed(owner, seq)
                self._delivered.add(seq)
        if at_once:
            self._in_transaction(self._delete_and_count, at_once)

    @property
    def delivered(self) -> int:
        """Messages acknowledged whose rows are still on disk."""
        return len(self._delivered)

    def delete_delivered(self) -> None:
        if self._delivered:
            self._in_transaction(
                self._db.executemany,
                "DELETE FROM outbox WHERE seq = ?",
                [(seq,) for seq in self._delivered],
            )
            self._delivered.clear()

    def _delete_and_count(self, seqs: list[int]) -> None:
        for seq in seqs:
            for owner, gone in self._db.execute(
                "DELETE FROM outbox WHERE seq = ? RETURNING account, seq", (seq,)
            ).fetchall():
                self._removed(owner, gone)

    def _in_transaction(self, work: Callable[..., object], *args: Any) -> None:
        self._db.execute("BEGIN")
        try:
            work(*args)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.writes += 1

    def _oldest_in_memory(self, seq: int) -> str | None:
        for account, queue in self._mirror.items():
            if queue and queue[0].seq == seq:
                return account
        return None

    def depth(self, account: str | None = None) -> int:
        if account is None:
            return sum(self._rows.values())
        return self._rows.get(account, 0)

    def checkpoint(self, mode: Literal["TRUNCATE", "RESTART"] = "TRUNCATE") -> None:
        """Copy the WAL into the database and start it over; call from a worker thread, with
        its own connection, so the writer's is never held while the disk syncs.

        A PASSIVE checkpoint alone, beside a steady stream of alerts, never catches up with the
        last one, so SQLite never starts the WAL over: it grew by 16 KB per alert for as long
        as alerts kept coming. RESTART (or TRUNCATE) does, but holds the writer while it works:
        a 31 MB WAL held an alert 19–34 ms. Hence PASSIVE first, which copies and syncs beside
        the writer; what is left for the second step was written meanwhile (0.5 ms, the writer
        not held measurably; 2026-12-01)."""
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            db.execute(f"PRAGMA wal_checkpoint({mode})")

    def close(self) -> None:
        self.delete_delivered()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()


@dataclass
class CheckpointPolicy:
    """When to checkpoint the outbox's WAL, and how; asked once a period (a second in the
    daemon) with the number of transactions committed so far.

    A checkpoint syncs the disk, and an alert written meanwhile can wait for it: 1–2 ms on this
    project's machines, where one every second stalled an alert in every 500. So: TRUNCATE
    after a period without writes (the checkpoint rarely meets an alert, and the WAL file gives
    its space back), or RESTART when a burst that does not pause has written `max_writes`
    transactions since the last one (about 4 KB of WAL each): the WAL starts over from its
    beginning and the file keeps its size. Either way the PASSIVE checkpoint before it has done
    the long part beside the writer (see `Outbox.checkpoint`).
    """

    max_writes: int = MAX_WRITES_BETWEEN_CHECKPOINTS
    _seen: int = field(default=0, init=False)
    _checkpointed: int = field(default=0, init=False)

    def due(self, writes: int) -> Literal["TRUNCATE", "RESTART"] | None:
        quiet = writes == self._seen
        self._seen = writes
        if writes == self._checkpointed:
            return None  # nothing written since the last one
        if quiet:
            return "TRUNCATE"
        if writes - self._checkpointed >= self.max_writes:
            return "RESTART"
        return None

    def done(self, writes: int) -> None:
        """The checkpoint started when `writes` transactions had been committed."""
        self._checkpointed = writes
