"""Binance's public market-data archive → one marginbot session (`marginbot import --from
binance-archive`).

The files are those Binance publishes for USDⓈ-M futures at https://data.binance.vision
(`data/futures/um/{daily,monthly}/<kind>/<SYMBOL>/...zip`), each a zip holding one CSV, with or
without a header row (older files have none), times in milliseconds (or microseconds, as some
newer files give them: told apart by size). Which kind a file is, and its symbol, is read from
its name, as Binance names them:

    BTCUSDT-trades-2024-03-01.zip            id,price,qty,quote_qty,time,is_buyer_maker
    BTCUSDT-aggTrades-2024-03-01.zip         agg_trade_id,price,quantity,first_trade_id,
                                             last_trade_id,transact_time,is_buyer_maker
    BTCUSDT-1m-2024-03-01.zip  (under markPriceKlines/, indexPriceKlines/, premiumIndexKlines/;
                                give the folder's name with --kind, or keep it in the path)
                                             open_time,open,high,low,close,volume,close_time,...
    BTCUSDT-bookTicker-2024-03-01.zip        update_id,best_bid_price,best_bid_qty,
                                             best_ask_price,best_ask_qty,transaction_time,
                                             event_time
    BTCUSDT-fundingRate-2024-03.zip          calc_time,funding_interval_hours,last_funding_rate

They become the frames the live feed would have received (bot/sim/frames.py: `trade`,
`markPriceUpdate`, `bookTicker`), merged in time order, so that replay, the daemon's kernel and
`marginbot compare` read them like any recording.

The mark price comes at kline resolution. Each 1-minute mark kline becomes four mark ticks:
the open at the minute's start, the two extremes at +20 s and +40 s, the close at +59.999 s.
Which extreme comes first is the order worse for the position (`mark_order`): for a long, the
low first (a stop-loss or a liquidation is met before a take-profit at the high), for a short
the high first. So no liquidation the real mark could have caused within a minute is missed:
both extremes are reached. What it over-states: the real mark may have reached the extremes in
the other order, or only for an instant, and at other seconds; a liquidation found this way is
exact in price and may be off by up to a minute in time. The index price is the index kline's
close of the same minute (the mark's when there is none); the premium index klines are not
needed by the ledger and only counted. Funding: each mark tick announces the rate of the next
settlement from the fundingRate file (0 without one) and its time, so the engine settles it as
live.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from bot import __version__
from bot.core import bounds
from bot.errors import InputError
from bot.files import replacing
from bot.session.format import SessionHeader
from bot.session.io import SessionWriter
from bot.sim.frames import binance_book, binance_mark, binance_trade

KINDS = (
    "trades", "aggTrades", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines",
    "bookTicker", "fundingRate",
)  # fmt: skip
NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-(?P<kind>trades|aggTrades|bookTicker|fundingRate|\d+[smhdwM])-"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?)\.(?:zip|csv)$"
)
FUNDING_MS = 8 * 3600 * 1000
MINUTE_MS = 60_000
ORDER = {"trade": 2, "mark": 1, "book": 0}  # at the same time: the book, the mark, the trade

MarkOrder = Literal["long", "short"]


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    path: Path
    symbol: str
    kind: str  # one of KINDS


def classify(path: Path, kind: str | None = None) -> ArchiveFile:
    """The file's kind and symbol from its published name (and folder, for klines)."""
    found = NAME.match(path.name)
    if found is None:
        raise InputError(
            f"{path.name}: not a Binance archive file name (e.g. BTCUSDT-trades-2024-03-01.zip, "
            "BTCUSDT-1m-2024-03-01.zip under markPriceKlines/)"
        )
    named = found["kind"]
    if named in ("trades", "aggTrades", "bookTicker", "fundingRate"):
        return ArchiveFile(path, found["symbol"], named)
    if named != "1m":
        raise InputError(f"{path.name}: klines of {named}; marginbot reads 1-minute klines")
    folder = kind or next(
        (
            p
            for p in path.parts
            if p in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
        ),
        None,
    )
    if folder not in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines"):
        raise InputError(
            f"{path.name}: which klines? keep the file under markPriceKlines/ (or "
            "indexPriceKlines/, premiumIndexKlines/) as Binance publishes it"
        )
    return ArchiveFile(path, found["symbol"], folder)


def _rows(path: Path) -> Iterator[list[str]]:
    """The CSV's data rows (a header row, when there is one, skipped)."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise InputError(f"{path.name}: expected one CSV inside, found {names}")
                with archive.open(names[0]) as raw:
                    yield from _csv(io.TextIOWrapper(raw, encoding="utf-8"), path)
        else:
            with path.open(encoding="utf-8") as text:
                yield from _csv(text, path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def _csv(text: Iterable[str], path: Path) -> Iterator[list[str]]:
    for number, row in enumerate(csv.reader(text), 1):
        if not row:
            continue
        if number == 1 and not row[0].strip().lstrip("-").isdigit():
            continue  # the header newer files carry
        if not row[0].strip().isdigit():
            raise InputError(f"{path.name}:{number}: not a data row: {','.join(row)[:80]}")
        yield row


EARLIEST_MS, LATEST_MS = 1_230_768_000_000, 4_102_444_800_000  # 2009 to 2100


def _ms(text: str, path: Path) -> int:
    """A time in ms; microseconds (16 digits, newer files) are told apart by size."""
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{path.name}: {text!r} is not a time in milliseconds") from None
    ms = value // 1000 if value >= 10**15 else value
    if not EARLIEST_MS <= ms <= LATEST_MS:
        raise InputError(f"{path.name}: {text!r} is not a time between 2009 and 2100")
    return ms


def _columns(row: list[str], count: int, path: Path, kind: str) -> list[str]:
    if len(row) < count:
        raise InputError(
            f"{path.name}: a {kind} row has {len(row)} columns, {count} expected: "
            f"{','.join(row)[:80]}"
        )
    return row


def _dec(text: str, path: Path) -> Decimal:
    """A price or a quantity, within marginbot's bounds (bot/core/bounds.py)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{path.name}: {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InputError(f"{path.name}: {text!r} is not a positive price or quantity")
    try:
        return bounds.price(path.name, value)
    except InputError as exc:
        raise InputError(str(exc)) from None


# -- each kind as (time ms, order, frame kind, frame text) ------------------------------------


def _trades(item: ArchiveFile) -> Iterator[tuple[int, int, str, str]]:
    aggregated = item.kind == "aggTrades"
    for row in _rows(item.path):
        _columns(row, 7 if aggregated else 6, item.path, item.kind)
        if aggregated:
            trade_id, price, qty, time, maker = row[0], row[1], row[2], row[5], row[6]
        else:
            trade_id, price, qty, time, maker = row[0], row[1], row[2], row[4], row[5]
        ms = _ms(time, item.path)
        _, text = binance_trade(
            item.symbol,
            _dec(price, item.path),
            _dec(qty, item.path),
            int(trade_id),
            maker.strip().lower() == "true",
            ms,
        )
        yield ms, ORDER["trade"], "trade", text


def _books(item: ArchiveFile) -> Iterator[tuple[int, int, str, str]]:
    for row in _rows(item.path):
        _columns(row, 6, item.path, item.kind)
        ms = _ms(row[6] if len(row) > 6 and row[6] else row[5], item.path)
        bid, ask = _dec(row[1], item.path), _dec(row[3], item.path)
        _, text = binance_book(item.symbol, bid, ask, _dec(row[2], item.path), int(row[0]), ms)
        yield ms, ORDER["book"], "book", text


def _closes(items: list[ArchiveFile]) -> dict[int, Decimal]:
    """open time → close, of index klines."""
    return {
        _ms(r[0], i.path): _dec(_columns(r, 5, i.path, i.kind)[4], i.path)
        for i in items
        for r in _rows(i.path)
    }


def _fundings(items: list[ArchiveFile]) -> list[tuple[int, Decimal]]:
    settled = []
    for item in items:
        for row in _rows(item.path):
            try:
                rate = bounds.rate(item.path.name, Decimal(row[2]))
            except (InvalidOperation, IndexError, InputError):
                raise InputError(f"{item.path.name}: {row!r} is not a funding row") from None
            settled.append((_ms(row[0], item.path), rate))
    return sorted(settled)


def _marks(
    item: ArchiveFile,
    index: dict[int, Decimal],
    fundings: list[tuple[int, Decimal]],
    order: MarkOrder,
) -> Iterator[tuple[int, int, str, str]]:
    next_settlement = 0
    for row in _rows(item.path):
        start = _ms(_columns(row, 5, item.path, item.kind)[0], item.path)
        o, h, low, c = (_dec(v, item.path) for v in row[1:5])
        first, second = (low, h) if order == "long" else (h, low)
        for offset, mark in ((0, o), (20_000, first), (40_000, second), (59_999, c)):
            ms = start + offset
            while next_settlement < len(fundings) and fundings[next_settlement][0] <= ms:
                next_settlement += 1
            if next_settlement < len(fundings):
                settles_ms, rate = fundings[next_settlement]
            else:
                settles_ms, rate = (ms // FUNDING_MS + 1) * FUNDING_MS, Decimal(0)
            _, text = binance_mark(item.symbol, mark, index.get(start, mark), rate, settles_ms, ms)
            yield ms, ORDER["mark"], "mark", text


def import_binance_archive(
    paths: list[Path], out: Path, mark_order: MarkOrder = "long", kind: str | None = None
) -> int:
    """The archive files → one session in time order. Returns the number of records."""
    items = [classify(p, kind) for p in paths]
    by_kind: dict[str, list[ArchiveFile]] = {k: [] for k in KINDS}
    for item in items:
        by_kind[item.kind].append(item)
    if not by_kind["trades"] and not by_kind["aggTrades"]:
        raise InputError("give the trades (or aggTrades) files: they are the last prices")
    if not by_kind["markPriceKlines"]:
        raise InputError("give the markPriceKlines files: the exchange liquidates on the mark")
    symbols = sorted({i.symbol for i in items})
    index = _closes(by_kind["indexPriceKlines"])
    fundings = _fundings(by_kind["fundingRate"])
    streams: list[Iterator[tuple[int, int, str, str]]] = [
        *(_trades(i) for i in by_kind["trades"] + by_kind["aggTrades"]),
        *(_books(i) for i in by_kind["bookTicker"]),
        *(_marks(i, index, fundings, mark_order) for i in by_kind["markPriceKlines"]),
    ]
    merged = heapq.merge(*streams, key=lambda item: (item[0], item[1]))
    first = next(merged, None)
    if first is None:
        raise InputError("the archive files hold no rows")
    start_ns = first[0] * 1_000_000
    header = SessionHeader(
        ("binance",),
        tuple(symbols),
        start_ns,
        __version__,
        None,
        {
            "imported_from": "binance-archive",
            "site": "https://data.binance.vision/?prefix=data/futures/um/",
            "licence": "Binance public market data",
            "files": sorted(p.name for p in paths),
            "mark_order": mark_order,
            "mark_rule": "each 1m mark kline: open, the extreme worse for a "
            f"{mark_order} first (+20 s), the other (+40 s), close (+59.999 s)",
            "premium_index_files": len(by_kind["premiumIndexKlines"]),
        },
    )
    lower = [s.lower() for s in symbols]
    conns = {
        "trade": ("binance.public.1", "/public/stream?streams="
                  + "/".join(f"{s}@trade/{s}@bookTicker" for s in lower)),
        "mark": ("binance.market.1", "/market/stream?streams="
                 + "/".join(f"{s}@markPrice@1s" for s in lower)),
    }  # fmt: skip
    conns["book"] = conns["trade"]
    with replacing(out, paths) as partial, SessionWriter(partial, header) as writer:
        for conn, path in dict(conns.values()).items():
            writer.write(
                {
                    "t": "connect",
                    "conn": conn,
                    "ts": start_ns,
                    "venue": "binance",
                    "url": "wss://fstream.binance.com" + path,
                }
            )
        for ms, _, frame_kind, text in itertools.chain([first], merged):
            writer.recv(conns[frame_kind][0], ms * 1_000_000, text)
        return writer.records
