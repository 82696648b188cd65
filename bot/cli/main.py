"""`marginbot`: the command-line entry point.

Subcommands are registered here and implemented in their own modules, so the start-up cost of
one command (ccxt, websockets) is never paid by another.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.errors import InputError, MarginbotError


def _margin(args: argparse.Namespace) -> int:
    from bot.calculator import calculate

    if args.file in (None, "-"):
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise MarginbotError(f"cannot read {args.file}: {exc.strerror}") from None
    sys.stdout.write(calculate(text) + "\n")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import load_settings, run_demo

    return run_demo(sys.stdout, load_settings(args.config))


def _import(args: argparse.Namespace) -> int:
    from bot.session.importers import import_cryptofeed, import_hftbacktest

    *inputs, output = args.paths
    if not inputs:
        raise InputError("give at least one input file and the output session file")
    if args.source == "cryptofeed":
        if len(inputs) != 1:
            raise InputError("cryptofeed captures are imported one file at a time")
        count = import_cryptofeed(inputs[0], output)
    else:
        count = import_hftbacktest(inputs, output)
    sys.stdout.write(f"wrote {count} records to {output}\n")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from bot.session.replay import replay

    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and speed <= 0:
        raise InputError("--speed must be a positive number or 'max'")
    if args.events_out is None:
        summary = replay(args.session, speed=speed)
    else:
        with args.events_out.open("wb") as out:
            summary = replay(args.session, events_out=out, speed=speed)
    sys.stdout.write("\n".join(summary.lines()) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marginbot",
        description="Paper trading of crypto perpetual futures with an exact margin ledger.",
    )
    parser.add_argument("--version", action="version", version=f"marginbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    margin = commands.add_parser(
        "margin",
        help="compute margin, PnL and liquidation prices of an account given as JSON",
        description="Read an account as JSON (FILE, or standard input when FILE is '-' or "
        "missing) and print its margin figures as JSON. Schema: docs/margin-calculator.md.",
    )
    margin.add_argument("file", nargs="?", metavar="FILE")
    margin.set_defaults(handler=_margin)

    demo = commands.add_parser(
        "demo",
        help="walk two traders (cross and isolated) through a falling market, on the ledger",
    )
    demo.add_argument(
        "--config", type=Path, metavar="FILE", help="demo settings (see config/demo.toml)"
    )
    demo.set_defaults(handler=_demo)

    importer = commands.add_parser(
        "import",
        help="convert a third-party recording into a marginbot session",
        description="Convert hftbacktest captures (several files form one session) or a "
        "cryptofeed capture into a marginbot-session file (.jsonl, or .jsonl.gz to compress).",
    )
    importer.add_argument(
        "--from", dest="source", required=True, choices=["hftbacktest", "cryptofeed"]
    )
    importer.add_argument("paths", nargs="+", type=Path, metavar="IN... OUT")
    importer.set_defaults(handler=_import)

    replayer = commands.add_parser(
        "replay",
        help="replay a recorded session deterministically and print a summary",
    )
    replayer.add_argument("session", type=Path, metavar="SESSION")
    replayer.add_argument(
        "--speed", default="max", help="N times the recorded pace, or 'max' (default)"
    )
    replayer.add_argument(
        "--events-out", type=Path, metavar="FILE", help="write every output event as JSON Lines"
    )
    replayer.set_defaults(handler=_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except MarginbotError as exc:
        sys.stderr.write(f"marginbot {args.command}: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A bug, not bad input: one line for the user, the traceback only when asked for.
        if os.environ.get("MARGINBOT_DEBUG"):
            raise
        sys.stderr.write(
            f"marginbot {args.command}: internal error {type(exc).__name__}: {exc} "
            "(set MARGINBOT_DEBUG=1 for the traceback and please report it)\n"
        )
        return 70
    return code


if __name__ == "__main__":
    sys.exit(main())
