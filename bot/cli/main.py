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
from bot.errors import MarginbotError


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
