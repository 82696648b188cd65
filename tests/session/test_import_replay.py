"""Importing recordings, the shipped session, and deterministic replay."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.market import MarketEvent, MarkPrice, NonMarketTrade, Trade
from bot.core.prices import PriceBoard
from bot.session.format import SessionFormatError
from bot.session.importers import import_cryptofeed, import_hftbacktest
from bot.session.io import SessionReader
from bot.session.replay import replay
from tests.conftest import ROOT, shared_data

SHIPPED = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
MARGINBOT = str(Path(sys.executable).with_name("marginbot"))


def test_shipped_session_is_a_reproducible_import(tmp_path: Path) -> None:
    out = tmp_path / "session.jsonl.gz"
    count = import_hftbacktest(
        [
            shared_data("hftbacktest/btcusdt_20230404.dat.gz"),
            shared_data("hftbacktest/btcusdt_20230405.dat.gz"),
        ],
        out,
    )
    assert count == 73766
    assert out.read_bytes() == SHIPPED.read_bytes()
    header = SessionReader(SHIPPED).header()
    assert header["source"]["licence"] == "MIT, Copyright (c) 2022 nkaz001"
    assert header["symbols"] == ["BTCUSDT"]


def test_shipped_session_counts_and_the_insurance_fund_print() -> None:
    board = PriceBoard()
    events: list[MarketEvent] = []

    def sink(event: MarketEvent) -> None:
        events.append(event)
        board.apply(event)
        assert board.get("binance", "BTCUSDT").last != Decimal("28722.50")

    summary = replay(SHIPPED, sink=sink)
    assert summary.events["mark_price"] == 514
    trades = [e for e in events if isinstance(e, Trade | NonMarketTrade)]
    assert len(trades) == 12935
    [fund] = [e for e in trades if isinstance(e, NonMarketTrade)]
    assert (fund.kind, fund.price) == ("INSURANCE_FUND", Decimal("28722.50"))
    assert summary.parse_errors == {}
    assert round(summary.span_seconds) == 514


def test_largest_divergence_matches_an_independent_computation() -> None:
    mark = last = None
    best = Decimal(0)
    with gzip.open(SHIPPED, "rt") as lines:
        records = [json.loads(line) for line in lines]
    for record in records:
        if record.get("t") != "recv":
            continue
        data = json.loads(record["data"])["data"]
        if data["e"] == "markPriceUpdate":
            mark = Decimal(data["p"])
        elif data["e"] == "trade" and data["X"] == "MARKET":
            last = Decimal(data["p"])
        else:
            continue
        if mark is not None and last is not None:
            best = max(best, abs(mark - last) / mark)
    divergence = replay(SHIPPED).largest_divergence
    assert divergence is not None
    assert divergence.relative == pytest.approx(best, rel=Decimal("1e-20"))
    assert abs(divergence.mark - divergence.last) == Decimal("8.2")


def test_replay_is_byte_identical_through_the_cli(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        result = subprocess.run(
            [MARGINBOT, "replay", str(SHIPPED), "--events-out", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "mark_price                 514" in result.stdout
        assert "largest mark-vs-last divergence: binance BTCUSDT" in result.stdout
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b'"type":"mark_price"') == 514


def test_replay_paces_by_the_recorded_time(tmp_path: Path) -> None:
    slept: list[float] = []
    replay(SHIPPED, speed=100.0, sleep=slept.append)
    assert sum(slept) == pytest.approx(514.26 / 100, rel=0.01)


def test_a_truncated_last_line_is_tolerated(tmp_path: Path) -> None:
    with gzip.open(SHIPPED, "rb") as session:
        lines = session.read().splitlines(keepends=True)[:2000]
    cut = tmp_path / "crashed.jsonl"
    cut.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    summary = replay(cut)
    assert summary.records == 1998
    assert summary.truncated_tail == 1
    gz = tmp_path / "crashed.jsonl.gz"
    gz.write_bytes(gzip.compress(b"".join(lines))[:-200])
    assert replay(gz).records > 1900


def test_a_broken_middle_line_is_an_error(tmp_path: Path) -> None:
    with gzip.open(SHIPPED, "rb") as session:
        lines = session.read().splitlines(keepends=True)[:10]
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:4]) + b"{oops\n" + b"".join(lines[4:]))
    with pytest.raises(SessionFormatError, match="line 5 is not valid JSON"):
        replay(broken)
    not_session = tmp_path / "other.jsonl"
    not_session.write_text('{"format": "something-else"}\n')
    with pytest.raises(SessionFormatError, match="is not a marginbot-session file"):
        replay(not_session)


@pytest.mark.parametrize(
    ("name", "venue", "expected"),
    [
        ("BYBIT", "bybit", {"mark_price": 89, "last_price": 43, "trade": 327}),
        ("OKX", "okx", {"book_top": 28, "last_price": 28, "trade": 74}),
        ("BINANCE_FUTURES", "binance", {"book_top": 613, "trade": 91}),
    ],
)
def test_cryptofeed_captures_import_and_replay(
    tmp_path: Path, name: str, venue: str, expected: dict[str, int]
) -> None:
    out = tmp_path / f"{name}.jsonl"
    import_cryptofeed(shared_data(f"cryptofeed/{name}.jsonl"), out)
    assert SessionReader(out).header()["venues"] == [venue]
    summary = replay(out)
    assert dict(summary.events) == expected
    assert summary.parse_errors == {}


def test_import_errors_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dat"
    bad.write_text("not a capture\n")
    result = subprocess.run(
        [MARGINBOT, "import", "--from", "hftbacktest", str(bad), str(tmp_path / "out.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "expected '<local_ts> <payload>'" in result.stderr


def test_mark_price_events_carry_both_timestamps() -> None:
    marks: list[MarkPrice] = []
    replay(SHIPPED, sink=lambda e: marks.append(e) if isinstance(e, MarkPrice) else None)
    lag_ms = sorted((m.ts_recv - m.ts_event) / 1e6 for m in marks)
    # Mark prices are stamped on the whole second and pushed about 80 ms later.
    assert 0 < lag_ms[len(lag_ms) // 2] < 500
