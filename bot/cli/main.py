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
from typing import Any

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


def _status(args: argparse.Namespace) -> int:
    from bot.cli.status import show_status

    return show_status(args)


def _config_check(args: argparse.Namespace) -> int:
    from bot.cli.status import check_config

    return check_config(args)


def _story(args: argparse.Namespace) -> int:
    from bot.cli.story import load_settings, run_story

    return run_story(sys.stdout, load_settings(args.config))


def _demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_live_demo

    return run_live_demo(args.config, sys.stdout, speed=args.speed)


def _import(args: argparse.Namespace) -> int:
    from bot.session.importers import import_cryptofeed, import_hftbacktest

    *inputs, output = args.paths
    if not inputs:
        raise InputError("give at least one input file and the output session file")
    if args.source == "scenario":
        from bot.session.importers import import_scenario

        if len(inputs) != 1:
            raise InputError("a scenario is imported one file at a time")
        count = import_scenario(inputs[0], output)
    elif args.source == "binance-archive":
        from bot.session.archive import import_binance_archive

        count = import_binance_archive(inputs, output, mark_order=args.mark_order)
    elif args.source == "cryptofeed":
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
    kernel = None
    if args.config is not None:
        from bot.config import load_config
        from bot.daemon import build_kernel

        kernel = build_kernel(load_config(args.config))
    if args.events_out is None:
        summary = replay(args.session, speed=speed, kernel=kernel)
    else:
        from bot.files import replacing

        with replacing(args.events_out, [args.session]) as partial, partial.open("wb") as out:
            summary = replay(args.session, events_out=out, speed=speed, kernel=kernel)
    sys.stdout.write("\n".join(summary.lines()) + "\n")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from bot.cli.live import SimOptions, main_sim

    if args.session and args.scenario:
        raise InputError("give --session or --scenario, not both")
    if args.start_delay is not None and args.start_delay < 0:
        raise InputError("--start-delay: expected zero or more seconds")
    if args.speed <= 0:
        raise InputError("--speed must be positive")
    return main_sim(
        SimOptions(
            args.host,
            args.port,
            args.session,
            args.scenario,
            args.speed,
            not args.once,
            args.faults,
            args.start_delay,
        )
    )


def _watch(args: argparse.Namespace) -> int:
    from bot.cli.live import WatchedFeed, WatchOptions, main_watch
    from bot.config import config_digest, load_config
    from bot.venues.spec import SPECS

    if args.config is not None:
        config = load_config(args.config)
        feeds = [
            WatchedFeed(
                f.venue,
                f.routes(config.sim.base_url),
                [s.upper() for s in f.symbols],
                f.stale_after_s,
            )
            for f in config.feeds
        ]
        recording = config.recording
        record_dir = Path(recording.directory) if recording.enabled else None
        options = WatchOptions(
            feeds,
            args.duration,
            args.interval,
            record_dir,
            recording.max_file_mb * 1024 * 1024,
            recording.compress,
            config_digest(args.config),
        )
        return main_watch(options)
    spec = SPECS[args.venue]
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    routes = spec.routes(args.network, symbols, args.sim, args.url)
    feed = WatchedFeed(args.venue, routes, symbols, args.stale_after)
    return main_watch(WatchOptions([feed], args.duration, args.interval, args.record))


def _sign(args: argparse.Namespace) -> int:
    import time

    from bot.control.codec import decode
    from bot.control.signing import sign
    from bot.testnet.credentials import load_command_secret

    payload = (args.payload or sys.stdin.read()).strip()
    request = decode(payload)  # refuse here what the daemon would refuse
    account = getattr(request, "account", None)
    if not account:
        raise InputError("the command names no account, whose secret would sign it")
    if not getattr(request, "id", None):
        raise InputError('give the command an "id": the daemon refuses a signed command without')
    secret = load_command_secret(account, args.secrets_file)
    if secret is None:
        raise InputError(
            f"account {account!r} has no command secret: set "
            f"MARGINBOT_{account.upper()}_COMMAND_SECRET or give --secrets-file"
        )
    sys.stdout.write(sign(secret, payload, int(time.time() * 1000)).decode() + "\n")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import asyncio

    from bot.cli.doctor import run_doctor
    from bot.config import load_config

    config = load_config(args.config)
    if args.seconds <= 0:
        raise InputError("--seconds: expected a positive number of seconds")
    return asyncio.run(run_doctor(config, args.config, args.seconds, args.record, sys.stdout))


def _set_state_aside(directory: Path) -> None:
    """`run --fresh`: the old ledgers move to `<directory>.<UTC time>`; nothing is deleted."""
    import fcntl
    import time

    if not directory.exists() or not any(directory.iterdir()):
        return
    lock = directory / "lock"
    if lock.exists():
        with lock.open("a") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MarginbotError(
                    f"a running marginbot holds {directory}: stop it before a fresh start"
                ) from None
            fcntl.flock(held, fcntl.LOCK_UN)
    aside = directory.with_name(
        f"{directory.name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    )
    try:
        directory.rename(aside)
    except OSError as exc:
        raise MarginbotError(f"cannot set {directory} aside: {exc.strerror}") from None
    sys.stdout.write(f"fresh start: the previous state is kept in {aside}\n")


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config import load_config
    from bot.daemon import Daemon, settle_heap
    from bot.logging import configure

    config = load_config(args.config)
    os.umask(0o077)  # state, sessions, outbox and logs: the owner's alone
    if args.fresh:
        _set_state_aside(Path(config.state.directory))
    settings = config.logging
    configure(
        level=os.environ.get("MARGINBOT_LOG_LEVEL", settings.level),
        file=Path(settings.file) if settings.file else None,
        max_bytes=settings.max_file_mb * 2**20,
        backups=settings.backups,
    )
    try:
        import uvloop  # the faster loop, where it is installed

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if args.events_out is None:
        daemon = Daemon(config, args.config, sys.stdout)
        return int(runner(daemon.run(args.duration, ready=settle_heap)))
    with args.events_out.open("ab") as events_out:
        daemon = Daemon(config, args.config, sys.stdout, events_out)
        return int(runner(daemon.run(args.duration, ready=settle_heap)))


def _alerts(args: argparse.Namespace) -> int:
    from bot.cli.alerts_view import AlertsOptions, main_alerts, password_from
    from bot.config import MqttConfig, load_config

    mqtt = load_config(args.config).mqtt if args.config else MqttConfig()
    host, port = mqtt.host, mqtt.port
    if args.broker:
        host, _, port_text = args.broker.rpartition(":")
        if not host or not port_text.isdigit():
            raise InputError(f"--broker {args.broker!r}: expected HOST:PORT, e.g. 127.0.0.1:1883")
        port = int(port_text)
    return main_alerts(
        AlertsOptions(
            host,
            port,
            args.prefix or mqtt.prefix,
            mqtt.username,
            password_from(mqtt.password_env),
            args.json,
            args.duration,
        )
    )


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
    margin.add_argument(
        "file", nargs="?", metavar="FILE", help="an account as JSON (default: standard input)"
    )
    margin.set_defaults(handler=_margin)

    demo = commands.add_parser(
        "demo",
        help="the live demo: simulator, broker and daemon with a cross and an isolated account",
    )
    demo.add_argument(
        "--config",
        type=Path,
        default=Path("config/demo.toml"),
        metavar="FILE",
        help="the daemon configuration to run (default config/demo.toml)",
    )
    demo.add_argument(
        "--speed", type=float, default=1.0, help="play the demo this many times faster (default 1)"
    )
    demo.set_defaults(handler=_demo)

    story = commands.add_parser(
        "story",
        help="walk two traders (cross and isolated) through a falling market, on the ledger",
    )
    story.add_argument(
        "--config", type=Path, metavar="FILE", help="story settings (see config/story.toml)"
    )
    story.set_defaults(handler=_story)

    importer = commands.add_parser(
        "import",
        help="convert a third-party recording into a marginbot session",
        description="Convert hftbacktest captures (several files form one session), a "
        "cryptofeed capture, or Binance's public archive files into a marginbot-session file "
        "(.jsonl, or .jsonl.gz to compress).",
    )
    importer.add_argument(
        "--from",
        dest="source",
        required=True,
        choices=["hftbacktest", "cryptofeed", "binance-archive", "scenario"],
        help="the recorder that wrote the input files, or binance-archive: the zipped CSVs of "
        "data.binance.vision (trades or aggTrades, markPriceKlines 1m, and optionally "
        "indexPriceKlines, premiumIndexKlines, bookTicker, fundingRate; docs/compare.md), or "
        "scenario: a simulator scenario file, as a daemon would record it",
    )
    importer.add_argument(
        "--mark-order",
        choices=["long", "short"],
        default="long",
        help="binance-archive: within each 1-minute mark kline, reach first the extreme worse "
        "for this side (default long: the low first)",
    )
    importer.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="the input files, then the session file to write (its name ending in .jsonl.gz "
        "compresses it)",
    )
    importer.set_defaults(handler=_import)

    replayer = commands.add_parser(
        "replay",
        help="replay a recorded session deterministically and print a summary",
    )
    replayer.add_argument(
        "session", type=Path, metavar="FILE", help="a session file (.jsonl or .jsonl.gz)"
    )
    replayer.add_argument(
        "--speed", default="max", help="N times the recorded pace, or 'max' (default)"
    )
    replayer.add_argument(
        "--events-out", type=Path, metavar="FILE", help="write every output event as JSON Lines"
    )
    replayer.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="run the session through the config's kernel: its accounts, trader commands, "
        "alert rules and strategies (fills, liquidations, alerts with the live ids)",
    )
    replayer.set_defaults(handler=_replay)

    from bot.cli.compare import add_parser as add_compare

    add_compare(commands)

    _live_parsers(commands)
    return parser


def _live_parsers(commands: Any) -> None:
    """The commands that run things: daemon, simulator, live views, and the daemon's CLI."""
    run = commands.add_parser(
        "run", help="run the daemon: feeds, paper accounts, commands (see config/)"
    )
    run.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="the daemon's TOML config"
    )
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    run.add_argument(
        "--events-out",
        type=Path,
        metavar="FILE",
        help="append every engine event (fills, triggers, ...) as JSON Lines",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="start new ledgers from the configuration; the old state directory is kept aside "
        "(renamed with the time), never deleted",
    )
    run.set_defaults(handler=_run)

    alerts = commands.add_parser("alerts", help="follow the alerts on the MQTT broker")
    alerts.add_argument("--config", type=Path, metavar="FILE", help="broker settings from here")
    alerts.add_argument("--broker", metavar="HOST:PORT", help="default 127.0.0.1:1883")
    alerts.add_argument("--prefix", help="topic prefix (default marginbot)")
    alerts.add_argument("--json", action="store_true", help="print the raw payloads")
    alerts.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    alerts.set_defaults(handler=_alerts)

    from bot.cli.control import add_parsers

    add_parsers(commands)

    status = commands.add_parser("status", help="the running daemon: feeds, prices, ledgers")
    status.add_argument("--config", type=Path, help="read the socket path from a config")
    status.add_argument("--socket", help="the daemon's control socket")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    config = commands.add_parser("config", help="check a configuration file")
    config_actions = config.add_subparsers(dest="action", required=True, metavar="{check}")
    check = config_actions.add_parser(
        "check", help="validate FILE and say what the daemon would run; exit 2 if it is wrong"
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the daemon's TOML config")
    check.add_argument(
        "--offline",
        action="store_true",
        help="check the file alone: do not require the testnet credentials it names",
    )
    check.set_defaults(handler=_config_check)

    sim = commands.add_parser(
        "sim",
        help="run the local exchange simulator (Binance and Bybit protocols on loopback)",
        description="Serve Binance USDⓈ-M combined streams and Bybit v5 public linear streams, "
        "plus their market-data REST endpoints, from a recorded session (default: the shipped "
        "Binance BTCUSDT session) or a scenario file. See docs/simulator.md.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)"
    )
    sim.add_argument(
        "--start-delay",
        type=float,
        metavar="SECONDS",
        help="start a scenario this long after the simulator (default: when the first client "
        "subscribes)",
    )
    sim.add_argument("--session", type=Path, metavar="FILE", help="a marginbot session to play")
    sim.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="a scenario file (e.g. config/scenarios/crash.toml)",
    )
    sim.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    sim.add_argument("--once", action="store_true", help="play the source once, do not loop")
    sim.add_argument("--faults", type=Path, metavar="FILE", help="a fault plan (TOML)")
    sim.set_defaults(handler=_sim)

    watch = commands.add_parser(
        "watch", help="print live mark, last and their divergence per symbol"
    )
    watch.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read feeds and recording from a config (e.g. config/default.toml)",
    )
    watch.add_argument(
        "--record", type=Path, metavar="DIR", help="record the session under DIR (without --config)"
    )
    watch.add_argument(
        "--venue", choices=["binance", "bybit", "okx"], default="binance", help="default binance"
    )
    watch.add_argument("--symbols", default="BTCUSDT", help="comma-separated (default BTCUSDT)")
    watch.add_argument(
        "--network",
        default="sim",
        help="sim (default), mainnet, testnet (binance, bybit) or demo (okx)",
    )
    watch.add_argument(
        "--sim",
        default="ws://127.0.0.1:8765",
        metavar="URL",
        help="the simulator's base URL when --network is sim (default ws://127.0.0.1:8765)",
    )
    watch.add_argument(
        "--url",
        help="another host for the venue's endpoints, as wss://host[:port] (overrides "
        "--network); a whole stream URL for a venue with one endpoint",
    )
    watch.add_argument(
        "--stale-after",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="no market data this long: stale, reconnect (default 15)",
    )
    watch.add_argument(
        "--interval", type=float, default=1.0, metavar="SECONDS", help="print every (default 1)"
    )
    watch.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    watch.set_defaults(handler=_watch)
    _doctor_parser(commands)


def _doctor_parser(commands: Any) -> None:
    signer = commands.add_parser(
        "sign", help="sign a command for MQTT with its account's command secret"
    )
    signer.add_argument(
        "payload", nargs="?", metavar="COMMAND", help="the command JSON (default: standard input)"
    )
    signer.add_argument("--secrets-file", metavar="FILE", help="else the environment")
    signer.set_defaults(handler=_sign)

    doctor = commands.add_parser(
        "doctor",
        help="check that every configured venue answers: streams, REST, private (read-only)",
    )
    doctor.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="the daemon's TOML config"
    )
    doctor.add_argument(
        "--seconds", type=float, default=5.0, help="how long to read each stream (default 5)"
    )
    doctor.add_argument(
        "--record", type=Path, metavar="DIR", help="keep everything received as a session file"
    )
    doctor.set_defaults(handler=_doctor)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in {"sim", "watch", "run"}:
        from bot.logging import configure

        configure()
    elif args.command == "doctor":
        from bot.logging import configure

        configure(level=os.environ.get("MARGINBOT_LOG_LEVEL", "warning"))  # the report only
    elif args.command == "demo":
        from bot.logging import configure

        configure(level=os.environ.get("MARGINBOT_LOG_LEVEL", "warning"))  # the story, not logs
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
