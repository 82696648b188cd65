"""`marginbot compare SESSION ...`: the same position as isolated and as cross (docs/compare.md)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

from bot.compare.whatif import Finished, Scenario, WhatIf
from bot.display import money, percent
from bot.errors import InputError
from bot.files import replacing
from bot.session.replay import replay


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"--{name}: {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InputError(f"--{name}: {text!r} must be a positive number")
    return value


def _time(text: str, name: str, keyword: str) -> int | None:
    """`first`/`last`, an ISO time (UTC unless it says otherwise) or nanoseconds."""
    if text == keyword:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--{name}: {text!r}: give {keyword}, a time like 2024-03-01T12:00:00Z, or ns"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000_000)


def scenario_of(args: argparse.Namespace) -> Scenario:
    grid = tuple(
        _decimal(part.strip(), "leverage-grid")
        for part in (args.leverage_grid or "").split(",")
        if part.strip()
    )
    return Scenario(
        symbol=args.symbol.upper(),
        side=args.side,
        qty=_decimal(args.qty, "qty"),
        leverage=_decimal(args.leverage, "leverage"),
        wallet=_decimal(args.wallet, "wallet"),
        isolated_margin=_decimal(args.isolated_margin, "isolated-margin")
        if args.isolated_margin
        else None,
        entry_ns=_time(args.entry, "entry", "first"),
        exit_ns=_time(args.exit, "exit", "last"),
        venue=args.venue,
        grid=grid,
    )


def compare(session: Path, scenario: Scenario) -> dict[str, Any]:
    whatif = WhatIf(scenario)
    with contextlib.suppress(Finished):
        replay(session, sink=whatif.on_event)
    return whatif.finish()


def _table(document: dict[str, Any]) -> str:
    def pct(closest: dict[str, Any] | None) -> str:
        return percent(closest["distance"] if closest else None)

    rows = [
        f"{'leverage':>8}  {'mode':<9} {'liquidated':<27} {'equity after':>13} "
        f"{'closest (mark)':>14} {'closest (last)':>14}"
    ]
    entries = document["grid"] or [{"leverage": document["leverage"], **document["modes"]}]
    for entry in entries:
        for mode in ("isolated", "cross"):
            m = entry[mode]
            at = m["liquidated_at"]
            when = (
                f"at {money(at['mark_price'])} {at['time'][11:19]}"
                if at
                else ("no" if m["opened"] else "not opened")
            )
            closest = m["closest_liquidation_distance"]
            rows.append(
                f"{entry['leverage'] + 'x':>8}  {mode:<9} {when:<27} "
                f"{money(m['equity_after']):>13} {pct(closest['by_mark']):>14} "
                f"{pct(closest['by_last']):>14}"
            )
    return "\n".join(rows)


def run_compare(args: argparse.Namespace) -> int:
    document = compare(args.session, scenario_of(args))
    entry = document["entry"]
    sys.stdout.write(
        f"{document['side']} {document['qty']} {document['symbol']} at "
        f"{entry['last_price']} ({entry['time']}), wallet {document['wallet']} USDT, until "
        f"{document['exit']['time']}\n\n{_table(document)}\n\n{document['verdict']}\n"
    )
    if args.json:
        with replacing(args.json, [args.session]) as partial:
            partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.write(f"wrote {args.json}\n")
    if args.html:
        from bot.compare.report import render  # noqa: PLC0415 — only for --html

        with replacing(args.html, [args.session]) as partial:
            partial.write_text(render(document, args.session.name), encoding="utf-8")
        sys.stdout.write(f"wrote {args.html}\n")
    return 0


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "compare",
        help="the same position as isolated and as cross over a session: who is liquidated",
        description="Open the same position at the session's first trade (or --entry) once "
        "as isolated and once as cross, replay the market through the daemon's kernel (fees, "
        "funding, triggers, liquidation), and report for each: liquidated or not, when and at "
        "which mark, the margin lost, the wallet and equity after, the closest approach to "
        "liquidation by the mark and by the last price, the alerts (docs/compare.md).",
    )
    parser.add_argument("session", type=Path, metavar="FILE", help="a session file")
    parser.add_argument("--symbol", required=True, help="e.g. BTCUSDT")
    parser.add_argument("--side", required=True, choices=["long", "short"], help="long or short")
    parser.add_argument("--qty", required=True, help="size in the base asset, e.g. 0.157")
    parser.add_argument("--leverage", required=True, help="e.g. 10 for 10x")
    parser.add_argument("--wallet", required=True, help="the wallet in USDT, e.g. 2000")
    parser.add_argument(
        "--isolated-margin",
        metavar="USDT",
        help="the isolated margin (default: notional / leverage, as the exchange books it)",
    )
    parser.add_argument(
        "--entry", default="first", metavar="TIME", help="first (default), an ISO time, or ns"
    )
    parser.add_argument(
        "--exit", default="last", metavar="TIME", help="last (default), an ISO time, or ns"
    )
    parser.add_argument(
        "--venue", default="binance", choices=["binance", "bybit", "okx"], help="default binance"
    )
    parser.add_argument(
        "--leverage-grid", metavar="LIST", help="also these leverages, e.g. 3,5,10,20"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report")
    parser.set_defaults(handler=run_compare)
