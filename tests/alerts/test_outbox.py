"""The outbox's in-memory mirror must always say what SQLite says."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bot.alerts.outbox as outbox_module
from bot.alerts.dispatch import keep_checkpointed
from bot.alerts.outbox import CheckpointPolicy, Outbox

ACCOUNTS = ("iso", "cross")


def wal_bytes(outbox: Outbox) -> int:
    wal = Path(f"{outbox.path}-wal")
    return wal.stat().st_size if wal.exists() else 0


adds = st.tuples(st.just("add"), st.sampled_from(ACCOUNTS), st.integers(0, 40))
operations = st.lists(
    st.one_of(
        adds,
        adds,
        adds,
        st.tuples(st.just("ack"), st.sampled_from(ACCOUNTS), st.integers(0, 3)),
        st.tuples(st.just("ack_many"), st.sampled_from(ACCOUNTS), st.integers(1, 4)),
        st.tuples(st.just("read"), st.sampled_from(ACCOUNTS), st.integers(1, 6)),
        st.tuples(st.just("reopen"), st.just(""), st.just(0)),
    ),
    min_size=3,
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(2, 8), st.integers(1, 8))
@example([("add", "iso", 0), ("add", "iso", 1), ("add", "iso", 2), ("ack", "iso", 1)], 5, 3)
@example([("add", "iso", 0), ("add", "iso", 1), ("add", "iso", 2), ("reopen", "", 0)], 5, 4)
def test_mirror_matches_the_disk_after_any_operations(
    ops: list[tuple[str, str, int]], max_rows: int, mirror_limit: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbox_module, "MIRROR_LIMIT", mirror_limit)
        path = Path(tmp) / "outbox.sqlite"
        outbox = Outbox(path, max_rows=max_rows)
        for op, account, n in ops:
            if op == "add":  # ids repeat: a repeated id is ignored, as on a redelivery
                outbox.add(account, f"id-{n}", f"mb/{account}/alert/x", str(n).encode())
            elif op == "ack":
                waiting = outbox.pending(account, 100)
                if n < len(waiting):  # not always the oldest
                    outbox.ack(waiting[n].seq)
            elif op == "ack_many":
                outbox.ack(*(p.seq for p in outbox.pending(account, n)))
            elif op == "read":
                assert outbox.pending(account, n) == outbox.pending_on_disk(account, n)
            else:
                outbox.close()
                outbox = Outbox(path, max_rows=max_rows)
            for name in ACCOUNTS:
                # A short read first: it must not leave a part of the queue taken for all of it.
                assert outbox.pending(name, 2) == outbox.pending_on_disk(name, 2)
                assert outbox.pending(name, 100) == outbox.pending_on_disk(name, 100)
                assert len(outbox._mirror.get(name, ())) <= mirror_limit  # the memory bound
                assert outbox.depth(name) == len(outbox.pending_on_disk(name, 100))
        outbox.close()


def test_rows_left_from_an_earlier_run_are_read_from_disk_then_mirrored(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    first = Outbox(path)
    for n in range(3):
        first.add("iso", f"id-{n}", "t", b"x")
    first.close()
    outbox = Outbox(path)
    assert [p.message_id for p in outbox.pending("iso")] == ["id-0", "id-1", "id-2"]
    outbox.add("iso", "id-3", "t", b"x")
    outbox.ack(*(p.seq for p in outbox.pending("iso", 2)))
    assert [p.message_id for p in outbox.pending("iso")] == ["id-2", "id-3"]
    assert outbox.pending("iso") == outbox.pending_on_disk("iso")


def test_an_outbox_made_with_autoincrement_still_opens(tmp_path: Path) -> None:
    """Outboxes written before 2026-12-01 numbered rows with AUTOINCREMENT."""
    path = tmp_path / "outbox.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, "
            "message_id TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, "
            "qos INTEGER NOT NULL, retain INTEGER NOT NULL, UNIQUE (account, message_id))"
        )
        old.execute("INSERT INTO outbox VALUES (7, 'iso', 'old', 't', x'6f6c64', 1, 0)")
    outbox = Outbox(path)
    outbox.add("iso", "new", "t", b"new")
    outbox.add("iso", "new", "t", b"again")  # ignored: that file still has its UNIQUE
    assert [(p.message_id, p.payload) for p in outbox.pending("iso")] == [
        ("old", b"old"),
        ("new", b"new"),
    ]
    assert outbox.pending("iso")[1].seq > 7
    assert outbox.pending("iso") == outbox.pending_on_disk("iso")


def test_a_checkpoint_empties_the_wal_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    for n in range(50):
        outbox.add("iso", f"id-{n}", "t", b"x" * 500)
    outbox.ack(*(p.seq for p in outbox.pending("iso", 20)))
    assert wal_bytes(outbox) > 50 * 500
    outbox.checkpoint()
    assert wal_bytes(outbox) == 0
    outbox.add("iso", "id-50", "t", b"x")  # the writer goes on in the emptied WAL
    assert wal_bytes(outbox) > 0
    outbox.close()
    again = Outbox(path)
    assert [p.message_id for p in again.pending("iso")] == [f"id-{n}" for n in range(20, 51)]


def test_checkpoints_wait_for_a_quiet_period_or_many_writes() -> None:
    policy = CheckpointPolicy(max_writes=100)
    assert policy.due(writes=0) is None  # nothing ever written
    assert policy.due(writes=40) is None  # alerts are being written
    assert policy.due(writes=90) is None
    assert policy.due(writes=90) == "TRUNCATE"  # a period without a write
    policy.done(90)
    assert policy.due(writes=90) is None  # nothing new since
    assert policy.due(writes=95) is None
    assert policy.due(writes=190) == "RESTART"  # a burst that does not pause
    policy.done(189)  # one write landed while the checkpoint ran
    assert policy.due(writes=250) is None
    assert policy.due(writes=250) == "TRUNCATE"  # ... and is checkpointed once it is quiet


def test_a_restart_starts_the_wal_over_while_the_writer_goes_on(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for n in range(100):
        outbox.add("iso", f"id-{n}", "t", b"x" * 500)
    size = wal_bytes(outbox)
    outbox.checkpoint("RESTART")
    for n in range(100, 150):
        outbox.add("iso", f"id-{n}", "t", b"x" * 500)
    assert wal_bytes(outbox) == size  # written from its start again, not appended
    assert [p.message_id for p in outbox.pending_on_disk("iso", 200)] == [
        f"id-{n}" for n in range(150)
    ]
    outbox.close()


def test_a_delivered_row_stays_on_disk_until_the_publisher_pauses(tmp_path: Path) -> None:
    """What a crash between the acknowledgement and the pause does: the alert goes again,
    with its id."""
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    for n in range(3):
        outbox.add("iso", f"id-{n}", "t", b"x")
    outbox.ack(outbox.pending("iso")[0].seq)
    outbox.ack(outbox.pending("iso")[0].seq)
    assert [p.message_id for p in outbox.pending("iso")] == ["id-2"]
    assert (outbox.depth(), outbox.delivered) == (1, 2)
    crashed = Outbox(path)  # what a restart would find now
    assert [p.message_id for p in crashed.pending("iso")] == ["id-0", "id-1", "id-2"]
    crashed._db.close()
    outbox.ack(outbox.pending("iso")[0].seq)
    outbox.delete_delivered()
    assert outbox.delivered == 0
    assert Outbox(path).pending("iso") == []


def test_an_acknowledgement_repeated_counts_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for n in range(2):
        outbox.add("iso", f"id-{n}", "t", b"x")
    first = outbox.pending("iso")[0].seq
    outbox.ack(first)
    outbox.ack(first)
    assert outbox.depth("iso") == 1
    outbox.delete_delivered()
    outbox.ack(first)  # its row is gone by now
    assert outbox.depth("iso") == 1
    assert outbox.pending("iso") == outbox.pending_on_disk("iso")


async def test_a_failed_checkpoint_is_tried_again(tmp_path: Path, monkeypatch) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    real = outbox.checkpoint
    calls: list[str] = []

    def checkpoint(mode: str) -> None:
        calls.append(mode)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        real(mode)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "checkpoint", checkpoint)
    outbox.add("iso", "id-0", "t", b"x")
    running = asyncio.create_task(keep_checkpointed(outbox, period_s=0.01))
    for _ in range(200):
        if wal_bytes(outbox) == 0:
            break
        await asyncio.sleep(0.01)
    assert not running.done()
    running.cancel()
    assert calls[:2] == ["TRUNCATE", "TRUNCATE"]
    assert wal_bytes(outbox) == 0
    outbox.close()
