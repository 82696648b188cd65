"""The durable outbox: an alert is on disk before it is published, and leaves only when the
broker has acknowledged it. After a crash, what is pending is delivered on start, in order.

SQLite in WAL mode; one row per message and account, `seq` keeps the order. Bounded: past
`max_rows` the oldest messages are dropped (the newest alerts matter most), counted in
`dropped`.
"""

from __future__ import annotations

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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "account TEXT NOT NULL, message_id TEXT NOT NULL, topic TEXT NOT NULL, "
            "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, "
            "UNIQUE (account, message_id))"
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
        self._db.execute(
            "INSERT OR IGNORE INTO outbox (account, message_id, topic, payload, qos, retain) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, message_id, topic, payload, qos, int(retain)),
        )
        excess = self.depth() - self.max_rows
        if excess > 0:
            self._db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                (excess,),
            )
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

    def ack(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def depth(self, account: str | None = None) -> int:
        if account is None:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        else:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE account = ?", (account,)
            ).fetchone()
        return int(count)

    def close(self) -> None:
        self._db.close()
