"""The durable outbox: an alert is on disk before it is published, and leaves only when the
broker has acknowledged it. After a crash, what is pending is delivered on start, in order.

SQLite in WAL mode; one row per message and account, `seq` keeps the order. Bounded: past
`max_rows` the oldest messages are dropped (the newest alerts matter most), counted in
`dropped`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path


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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "account TEXT NOT NULL, message_id TEXT NOT NULL, topic TEXT NOT NULL, "
            "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, "
            "UNIQUE (account, message_id))"
        )
        # Counted once here, then kept in step: COUNT(*) at every alert would cost a scan.
        self._rows: dict[str, int] = dict(
            self._db.execute("SELECT account, COUNT(*) FROM outbox GROUP BY account").fetchall()
        )

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
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO outbox (account, message_id, topic, payload, qos, retain) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, message_id, topic, payload, qos, int(retain)),
        ).rowcount
        self._rows[account] = self._rows.get(account, 0) + inserted
        excess = self.depth() - self.max_rows
        if excess > 0:
            gone = self._db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?) "
                "RETURNING account",
                (excess,),
            ).fetchall()
            for (owner,) in gone:
                self._rows[owner] -= 1
            self.dropped += excess
            return False
        return True

    def pending(self, account: str, limit: int = 100) -> list[Pending]:
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
            for (owner,) in self._db.execute(
                "DELETE FROM outbox WHERE seq = ? RETURNING account", (seq,)
            ).fetchall():
                self._rows[owner] -= 1
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
