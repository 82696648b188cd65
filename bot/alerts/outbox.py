"""The durable outbox: an alert is on disk before it is published, and leaves only when the
broker has acknowledged it. After a crash, what is pending is delivered on start, in order.

SQLite in WAL mode; one row per message and account, `seq` keeps the order. Bounded: past
`max_rows` the oldest messages are dropped (the newest alerts matter most), counted in
`dropped`.

What this process wrote is also kept in memory (up to `MIRROR_LIMIT` rows per account), so the
publisher takes its next message without reading it back: a SELECT was about 30 µs of every
alert's way out. The disk stays the truth: past the limit, or after a start with rows left
over, `pending` reads SQLite until the account's queue fits in memory again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import deque
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

MIRROR_LIMIT = 1_000


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.dropped = 0
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process, not power loss
        # A checkpoint fsyncs the database (tens of ms on some disks): never on the event loop.
        # The daemon runs `checkpoint` in a worker thread instead (see Daemon).
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        # `seq` is the rowid: a new row gets the largest + 1, which keeps the order. Not
        # AUTOINCREMENT: its bookkeeping page doubled the WAL written per alert (20 → 10 KB) and
        # cost 15–25 µs of every alert's insert. Files made with it keep working.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, "
            "account TEXT NOT NULL, message_id TEXT NOT NULL, topic TEXT NOT NULL, "
            "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, "
            "UNIQUE (account, message_id))"
        )
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
        """Remove delivered messages, in one transaction."""
        self._db.execute("BEGIN")
        for seq in seqs:
            for owner, gone in self._db.execute(
                "DELETE FROM outbox WHERE seq = ? RETURNING account, seq", (seq,)
            ).fetchall():
                self._removed(owner, gone)
        self._db.execute("COMMIT")

    def depth(self, account: str | None = None) -> int:
        if account is None:
            return sum(self._rows.values())
        return self._rows.get(account, 0)

    def checkpoint(self) -> None:
        """Copy the WAL into the database; call from a worker thread. Its own connection: the
        writer's is never held while the disk syncs."""
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
