"""`marginbot import --from binance-archive`: files in the layout data.binance.vision publishes
(zipped CSVs, with and without a header row, ms or µs times), then a comparison over them."""

from __future__ import annotations

import io
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.compare import compare
from bot.compare.whatif import Scenario
from bot.core.market import MarkPrice, Trade
from bot.errors import InputError
from bot.session.archive import import_binance_archive
from bot.session.io import SessionReader
from bot.session.replay import replay
from tests.conftest import MARGINBOT

START = 1_709_251_200_000  # 2024-03-01 00:00:00 UTC, ms
MINUTE = 60_000
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)


def _zip(path: Path, rows: list[str], header: str | None) -> Path:
    """A zip holding one CSV named like the zip, as Binance publishes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    if header:
        text.write(header + "\n")
    for row in rows:
        text.write(row + "\n")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(path.with_suffix(".csv").name, text.getvalue())
    return path


def _kline(minute: int, o: str, h: str, low: str, c: str) -> str:
    start = START + minute * MINUTE
    return f"{start},{o},{h},{low},{c},0,{start + MINUTE - 1},0,0,0,0,0"


def archive(root: Path, micro: bool = False) -> list[Path]:
    """Ten minutes of BTCUSDT: trades flat at 60,000 every 10 s; the mark flat too but for a
    wick to 53,000 in minute 5 that the trades never show."""
    scale = 1000 if micro else 1
    trades = [
        f"{n},60000.0,0.010,600.0,{(START + n * 10_000) * scale},{'true' if n % 2 else 'false'}"
        for n in range(60)
    ]
    marks = [
        _kline(m, "60000", "60010", "53000" if m == 5 else "59990", "59500" if m == 5 else "60000")
        for m in range(10)
    ]
    index = [_kline(m, "60001", "60001", "60001", "60001") for m in range(10)]
    day = "2024-03-01"
    return [
        _zip(root / f"trades/BTCUSDT/BTCUSDT-trades-{day}.zip", trades,
             "id,price,qty,quote_qty,time,is_buyer_maker"),
        _zip(root / f"markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-{day}.zip", marks, None),
        _zip(root / f"indexPriceKlines/BTCUSDT/1m/BTCUSDT-1m-{day}.zip", index, KLINE_HEADER),
        _zip(root / "fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-03.zip",
             [f"{START + 8 * 3600 * 1000},8,0.00010000"],
             "calc_time,funding_interval_hours,last_funding_rate"),
    ]  # fmt: skip


def test_the_published_layout_becomes_a_session_in_time_order(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl.gz"
    records = import_binance_archive(archive(tmp_path / "archive"), out)
    assert records == 2 + 60 + 40  # two connections, 60 trades, four mark ticks a minute
    header = SessionReader(out).header()
    assert header["source"]["imported_from"] == "binance-archive"
    assert header["source"]["mark_order"] == "long"
    events: list[object] = []
    summary = replay(out, sink=events.append)
    assert sum(summary.parse_errors.values()) == 0
    stamps = [e.ts_event for e in events]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)
    marks = [e for e in events if isinstance(e, MarkPrice)]
    assert len(marks) == 40
    # Minute 5: open, the low first (worse for a long), the high, the close.
    wick = [
        ((m.ts_event // 10**6 - START - 5 * MINUTE) // 1000, str(m.mark_price))
        for m in marks
        if START + 5 * MINUTE <= m.ts_event // 10**6 < START + 6 * MINUTE
    ]
    assert wick == [(0, "60000"), (20, "53000"), (40, "60010"), (59, "59500")]
    assert {str(m.index_price) for m in marks} == {"60001"}
    assert all(m.funding_rate == Decimal("0.0001") for m in marks)
    assert len([e for e in events if isinstance(e, Trade)]) == 60
    # Microsecond times (newer files) give the same session.
    again = tmp_path / "micro.jsonl.gz"
    import_binance_archive(archive(tmp_path / "micro", micro=True), again)
    later: list[object] = []
    replay(again, sink=later.append)
    assert [e.ts_event for e in later] == stamps  # type: ignore[attr-defined]


def test_a_wick_of_the_mark_liquidates_isolated_and_not_cross(tmp_path: Path) -> None:
    """The last price never left 60,000; the mark's one-minute wick to 53,000 takes the
    isolated 10x long (liquidation price about 54,217) and not the cross one."""
    out = tmp_path / "day.jsonl.gz"
    done = subprocess.run(
        [MARGINBOT, "import", "--from", "binance-archive",
         *map(str, archive(tmp_path / "archive")), str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = compare(out, Scenario("BTCUSDT", "long", Decimal(1), Decimal(10), Decimal(10_000)))
    isolated, cross = result["modes"]["isolated"], result["modes"]["cross"]
    assert isolated["liquidated"]
    at = isolated["liquidated_at"]
    assert at["mark_price"] == "53000"
    assert at["last_price"] == "60000"  # a trader watching the last price saw nothing
    assert at["ts_event"] == (START + 5 * MINUTE + 20_000) * 10**6
    assert not cross["liquidated"]


@pytest.mark.parametrize(
    ("name", "rows", "message"),
    [
        ("BTCUSDT-trades.zip", ["1,2,3,4,5,true"], "not a Binance archive file name"),
        (
            "trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip",
            [f"1,abc,3,4,{START},true"],
            "not a number",
        ),
        (
            "trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip",
            [f"1,-5,3,4,{START},true"],
            "not a positive",
        ),
        ("trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip", ["1,5,3,4,5,true"], "between 2009"),
        ("trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip", ["1,5,3"], "3 columns, 6 expected"),
        ("trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip", ["x,1,3,4,5,true", "y"], "not a data"),
        ("BTCUSDT-1m-2024-03-01.zip", [_kline(0, "1", "1", "1", "1")], "which klines"),
        ("trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip", ["1,1,3,4,soon,true"], "not a time"),
    ],
)
def test_bad_archive_files_are_refused_in_words(
    tmp_path: Path, name: str, rows: list[str], message: str
) -> None:
    files = [_zip(tmp_path / name, rows, None)]
    marks = tmp_path / "markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-03-01.zip"
    files.append(_zip(marks, [_kline(0, "1", "1", "1", "1")], None))
    with pytest.raises(InputError, match=message):
        import_binance_archive(files, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()  # nothing half-written


FIELD = st.one_of(
    st.sampled_from(["", "0", "-1", "1e400", "NaN", "inf", "true", "x", "9" * 30, "1.5"]),
    st.integers(-(10**18), 10**18).map(str),
    st.text(st.characters(codec="ascii", exclude_characters='\n\r,"'), max_size=12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trades=st.lists(st.lists(FIELD, min_size=0, max_size=8), max_size=6),
    klines=st.lists(st.lists(FIELD, min_size=0, max_size=13), max_size=4),
)
def test_mutated_archive_rows_import_or_are_refused_in_words(
    tmp_path_factory: pytest.TempPathFactory, trades: list[list[str]], klines: list[list[str]]
) -> None:
    """Any row in any file: a session, or an InputError that names the file, never another
    exception and never a half-written output."""
    root = tmp_path_factory.mktemp("fuzz")
    good_trade = f"1,60000,0.01,600,{START},true"
    files = [
        _zip(root / "trades/BTCUSDT/BTCUSDT-trades-2024-03-01.zip",
             [good_trade, *(",".join(r) for r in trades)], None),
        _zip(root / "markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-03-01.zip",
             [_kline(0, "60000", "60000", "60000", "60000"), *(",".join(r) for r in klines)],
             None),
    ]  # fmt: skip
    out = root / "out.jsonl"
    try:
        import_binance_archive(files, out)
    except InputError as exc:
        said = str(exc)
    else:
        summary = replay(out)  # what was written replays, every frame parsed
        assert sum(summary.parse_errors.values()) == 0
        return
    assert "BTCUSDT-" in said  # the file it is about
    assert not out.exists()
