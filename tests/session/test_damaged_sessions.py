"""`marginbot replay` on damaged sessions: a clear line or a counted skip, never a traceback,
a hang, or gigabytes of memory."""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from bot.session.format import SessionHeader
from tests.conftest import MARGINBOT

HEADER = SessionHeader(("binance",), ("BTCUSDT",), 1_700_000_000_000_000_000, "test").to_json()
TS = 1_700_000_000_000_000_000
MARK = (
    '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1700000000000,'
    '"s":"BTCUSDT","p":"PRICE","i":"10000","P":"10000","r":"0.0001","T":1700006400000}}'
)


def session(path: Path, records: list[object], compress: bool = True) -> Path:
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in [HEADER, *records])
    path.write_bytes(gzip.compress(lines) if compress else lines)
    return path


def connect(ts: int = TS) -> dict:
    return {"t": "connect", "conn": "binance.market.1", "ts": ts, "venue": "binance"}


def mark(price: str, ts: int = TS) -> dict:
    return {"t": "recv", "conn": "binance.market.1", "ts": ts, "data": MARK.replace("PRICE", price)}


def replay(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MARGINBOT, "replay", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_header_fixture_is_a_session(tmp_path: Path) -> None:
    path = session(tmp_path / "ok.jsonl.gz", [connect(), mark("10000", TS + 1)])
    result = replay(str(path))
    assert result.returncode == 0, result.stderr
    assert "mark_price                   1" in result.stdout


def test_a_gz_that_is_not_gzip_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fake.jsonl.gz"
    path.write_bytes(orjson.dumps(HEADER) + b"\n")
    result = replay(str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "not a gzip file" in result.stderr


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"t": "recv", "ts": TS, "data": "{}"}, "conn is missing"),
        (
            {"t": "recv", "conn": "binance.market.1", "ts": str(TS), "data": "{}"},
            "ts is not an integer",
        ),
        ({"t": "recv", "conn": "binance.market.1", "ts": -5, "data": "{}"}, "ts is not a time"),
        ({"t": "recv", "conn": "binance.market.1", "ts": 10**30, "data": "{}"}, "ts is not"),
        ({"t": "recv", "conn": "binance.market.1", "ts": TS, "data": 12}, "recv data is not text"),
        (
            {
                "t": "command",
                "ts": TS,
                "data": {"cmd": "place_order", "account": "iso", "symbol": "BTCUSDT", "qty": "NaN"},
            },
            None,
        ),
    ],
)
def test_a_damaged_record_is_counted_and_skipped(
    tmp_path: Path, record: dict, why: str | None
) -> None:
    path = session(tmp_path / "s.jsonl.gz", [connect(), record, mark("10000", TS + 2)])
    result = replay(str(path), "--speed", "1000")
    assert result.returncode == 0, result.stderr
    assert "mark_price                   1" in result.stdout
    if why is not None:
        assert why in result.stdout


def test_a_price_of_zero_is_a_parse_error_not_a_crash(tmp_path: Path) -> None:
    path = session(tmp_path / "s.jsonl.gz", [connect(), mark("0", TS + 1), mark("1e400", TS + 2)])
    result = replay(str(path))
    assert result.returncode == 0, result.stderr
    assert "binance:bad_price: 1" in result.stdout
    assert "binance:bad_number: 1" in result.stdout


def test_a_huge_gap_with_speed_does_not_hang(tmp_path: Path) -> None:
    later = TS + 3600 * 10**9 * 24 * 365  # a year later
    path = session(tmp_path / "s.jsonl.gz", [connect(), mark("10000", TS), mark("10001", later)])
    started = time.monotonic()
    result = replay(str(path), "--speed", "1000", timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # at most MAX_WAIT_S per gap


def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(orjson.dumps(HEADER) + b"\n")
        chunk = b"a" * 2**20
        for _ in range(1024):  # 1 GB of one line, about 1 MB on disk
            out.write(chunk)
    assert path.stat().st_size < 2 * 2**20
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = replay(str(path), timeout=120)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert result.returncode == 2
    assert "longer than 16 MB" in result.stderr
    assert max(peak_kb, before) < 400 * 1024  # kilobytes: under 400 MB, not gigabytes
