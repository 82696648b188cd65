"""Convert third-party recordings into marginbot sessions (`marginbot import`).

Formats are described in shared/data/SOURCES.md:
- hftbacktest: gzip or plain text, `<local_ts> <payload>` per line; `local_ts` in microseconds
  (2023 collector) or nanoseconds (2024 collector); payloads are Binance combined-stream frames,
  except REST depth snapshots (a JSON body without `stream`).
- cryptofeed capture format 2: JSON Lines with a header, then `http`, `connect`, `send` and
  `recv` records with float-second timestamps.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bot import __version__
from bot.errors import InputError
from bot.files import replacing
from bot.session.format import SessionHeader
from bot.session.io import SessionWriter

HFTBACKTEST_SOURCE = {
    "imported_from": "hftbacktest",
    "repository": "https://github.com/nkaz001/hftbacktest",
    "licence": "MIT, Copyright (c) 2022 nkaz001",
}
CRYPTOFEED_VENUES = {"BINANCE_FUTURES": "binance", "BYBIT": "bybit", "OKX": "okx"}


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as text:
            yield from text
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def _hft_records(paths: list[Path]) -> Iterator[tuple[int, str]]:
    for path in paths:
        for number, line in enumerate(_lines(path), 1):
            stamp, sep, payload = line.rstrip("\n").partition(" ")
            if not sep or not stamp.isdigit():
                raise InputError(f"{path}:{number}: expected '<local_ts> <payload>'")
            ts = int(stamp)
            yield (ts * 1000 if ts < 10**17 else ts), payload


def import_hftbacktest(paths: list[Path], out: Path) -> int:
    """Binance USDⓈ-M captures → one session. Returns the number of records written."""
    streams: list[str] = []
    first_ts: int | None = None
    for ts, payload in _hft_records(paths):
        first_ts = ts if first_ts is None else first_ts
        if payload.startswith('{"stream":"'):
            name = payload[11 : payload.index('"', 11)]
            if name not in streams:
                streams.append(name)
    if first_ts is None:
        raise InputError("the hftbacktest files hold no records")
    symbols = sorted({s.split("@", 1)[0].upper() for s in streams})
    header = SessionHeader(
        ("binance",),
        tuple(symbols),
        first_ts,
        __version__,
        None,
        {**HFTBACKTEST_SOURCE, "files": [p.name for p in paths]},
    )
    url = "wss://fstream.binance.com/stream?streams=" + "/".join(streams)
    with replacing(out, paths) as partial, SessionWriter(partial, header) as writer:
        writer.write(
            {"t": "connect", "conn": "binance.1", "ts": first_ts, "venue": "binance", "url": url}
        )
        for ts, payload in _hft_records(paths):
            if payload.startswith('{"stream"'):
                writer.recv("binance.1", ts, payload)
            else:
                depth = f"https://fapi.binance.com/fapi/v1/depth?symbol={symbols[0]}&limit=1000"
                writer.write(
                    {
                        "t": "http",
                        "conn": "binance.http",
                        "ts": ts,
                        "method": "GET",
                        "url": depth,
                        "status": 200,
                        "data": payload,
                    }
                )
        return writer.records


def _seconds_to_ns(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InputError(f"expected a timestamp in seconds, got {raw!r}")
    # The shortest repr is the text the recorder wrote; Decimal keeps its digits exactly.
    return int(Decimal(repr(raw)) * 1_000_000_000)


def _venue_of(exchange: str, url: str) -> str:
    venue = CRYPTOFEED_VENUES.get(exchange, exchange.lower())
    if venue == "bybit" and "/public/spot" in url:
        return "bybit_spot"  # a spot stream: no marginbot parser, recorded for completeness
    return venue


def import_cryptofeed(path: Path, out: Path) -> int:
    records = iter(_lines(path))
    try:
        header: dict[str, Any] = orjson.loads(next(records))
    except (StopIteration, orjson.JSONDecodeError):
        raise InputError(f"{path}: not a cryptofeed capture (no JSON header line)") from None
    if header.get("t") != "header" or header.get("format") != 2:
        raise InputError(f"{path}: not a cryptofeed capture of format 2")
    exchange = str(header.get("exchange", ""))
    config = header.get("config") or {}
    symbols = sorted({s for channel in config.values() for s in channel})
    start = _seconds_to_ns(header.get("recorded", 0))
    source = {
        "imported_from": "cryptofeed",
        "repository": "https://github.com/bmoscon/cryptofeed",
        "licence": "XFree86 1.1 style, Copyright (C) 2017-2025 Bryant Moscon",
        "file": path.name,
        "exchange": exchange,
    }
    venue = CRYPTOFEED_VENUES.get(exchange, exchange.lower())
    with (
        replacing(out, [path]) as partial,
        SessionWriter(
            partial, SessionHeader((venue,), tuple(symbols), start, __version__, None, source)
        ) as writer,
    ):
        for number, line in enumerate(records, 2):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise InputError(f"{path}:{number}: not valid JSON") from None
            kind, ts = record.get("t"), _seconds_to_ns(record.get("ts"))
            conn = record.get("conn", "")
            if kind == "connect":
                writer.write(
                    {
                        "t": "connect",
                        "conn": conn,
                        "ts": ts,
                        "venue": _venue_of(exchange, record.get("addr", "")),
                        "url": record.get("addr", ""),
                    }
                )
            elif kind in ("recv", "send"):
                payload = {"data": record["data"]} if "data" in record else {"b64": record["b64"]}
                writer.write({"t": kind, "conn": conn, "ts": ts, **payload})
            elif kind == "http":
                writer.write(
                    {
                        "t": "http",
                        "conn": conn,
                        "ts": ts,
                        "method": "GET",
                        "url": record.get("url", ""),
                        "status": 200,
                        "data": record.get("data", ""),
                    }
                )
            else:
                raise InputError(f"{path}:{number}: unknown record kind {kind!r}")
        return writer.records


def import_scenario(path: Path, out: Path, start_ms: int = 1_700_000_000_000) -> int:
    """A simulator scenario (config/scenarios/*.toml) → the session a daemon would record from
    `marginbot sim --scenario`, at a fixed start time, so that the same scenario gives the same
    session."""
    from bot.sim.scenario import load_scenario  # noqa: PLC0415 — the simulator's, on demand
    from bot.sim.sources import ScenarioSource  # noqa: PLC0415

    scenario = load_scenario(path)
    return write_source(
        ScenarioSource(scenario, ("binance",)),
        out,
        tuple(scenario.symbols),
        {"imported_from": "scenario", "scenario": scenario.name, "file": path.name},
        inputs=[path],
        start_ms=start_ms,
    )


def write_source(
    source: Any,
    out: Path,
    symbols: tuple[str, ...],
    provenance: dict[str, Any],
    inputs: Sequence[Path] = (),  # the files it is made from (the output must not be one)
    start_ms: int = 1_700_000_000_000,
) -> int:
    """The Binance frames of a simulator source (bot/sim/sources.py: a scenario, a recorded
    session, one then the other) → the session a daemon would record from them, each frame on
    the connection of the endpoint that serves it."""
    lower = [s.lower() for s in symbols]
    conns = {
        "binance.public.1": "/public/stream?streams="
        + "/".join(f"{s}@trade/{s}@bookTicker" for s in lower),
        "binance.market.1": "/market/stream?streams="
        + "/".join(f"{s}@markPrice@1s" for s in lower),
    }
    header = SessionHeader(
        ("binance",), symbols, start_ms * 1_000_000, __version__, None, provenance
    )
    with replacing(out, inputs) as partial, SessionWriter(partial, header) as writer:
        for conn, url in conns.items():
            writer.write(
                {
                    "t": "connect",
                    "conn": conn,
                    "ts": start_ms * 1_000_000,
                    "venue": "binance",
                    "url": "wss://fstream.binance.com" + url,
                }
            )
        for item in source.frames(start_ms):
            if item.venue != "binance":
                continue
            conn = "binance.market.1" if "@markPrice" in item.topic else "binance.public.1"
            writer.recv(conn, start_ms * 1_000_000 + int(item.t_s * 1e9), item.text)
        return writer.records
