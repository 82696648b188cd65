"""`marginbot status` (the running daemon, as tables) and `marginbot config check FILE`."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bot.cli.control import _call
from bot.config import Config, load_config
from bot.config.schema import AccountConfig
from bot.display import money, percent
from bot.errors import ConfigError, MarginbotError
from bot.strategy import load_strategy
from bot.testnet.credentials import load_credentials

_pct, _money = percent, money  # bot/display.py


def _account_type(account: AccountConfig) -> str:
    """Bybit's account type as `config check` shows it: Unified unless said otherwise."""
    if account.venue != "bybit":
        return ""
    return f" ({account.account_type or 'unified'})"


def show_status(args: argparse.Namespace) -> int:
    reply = _call(args, {"cmd": "query"})
    if not reply.get("ok"):
        raise MarginbotError(str(reply.get("error")))
    if args.json:
        document = {"daemon": reply.get("daemon"), "accounts": reply["state"]}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    console = Console(width=max(Console().width, 120))
    daemon: dict[str, Any] = reply.get("daemon") or {}
    console.print(
        f"marginbot {daemon.get('version', '?')}, up {daemon.get('uptime_s', '?')} s; "
        f"alerts raised {daemon.get('alerts_raised', 0)}, waiting for the broker "
        f"{daemon.get('outbox_depth') if daemon.get('outbox_depth') is not None else '-'}"
    )
    feeds = Table("feed", "health", "frames", "reconnects", "lag (median)", title="Feeds")
    for feed in daemon.get("feeds", []):
        lag = feed.get("median_lag_ms")
        feeds.add_row(
            f"{feed.get('stream', feed['venue'])} {feed['url'].split('?', 1)[0]}",
            "ok" if feed["healthy"] else f"[red]{feed['problem']}[/red]",
            str(feed["frames"]),
            str(feed["reconnects"]),
            "-" if lag is None else f"{lag:.1f} ms",
        )
    console.print(feeds)
    prices = Table("symbol", "mark", "last", "divergence", title="Prices")
    for symbol, p in daemon.get("prices", {}).items():
        prices.add_row(symbol, p["mark"] or "-", p["last"] or "-", _pct(p["divergence"]))
    console.print(prices)
    accounts = Table(
        "account", "wallet", "margin balance", "maintenance", "margin ratio", title="Accounts"
    )
    positions = Table(
        "account",
        "position",
        "mode",
        "entry",
        "mark",
        "liquidation",
        "margin ratio",
        "unrealized",
        title="Positions",
    )
    for name, state in reply["state"].items():
        a = state["account"]
        accounts.add_row(
            f"{name} ({state['venue']})",
            _money(a["wallet_balance"]),
            _money(a["margin_balance"]),
            _money(a["maintenance_margin"]),
            _pct(a["margin_ratio"]),
        )
        for p in state["positions"]:
            positions.add_row(
                name,
                f"{p['side']} {p['qty']} {p['symbol']}",
                f"{p['margin_mode']} {p['leverage']}x",
                p["entry_price"],
                p["mark_price"],
                _money(p["liquidation_price"]),
                _pct(p["margin_ratio"]),
                _money(p["unrealized_pnl"]),
            )
    console.print(accounts)
    console.print(positions)
    return 0


def describe_config(config: Config, path: Path) -> list[str]:
    """What the daemon would run with this configuration, in words, secrets left out."""
    lines = [f"{path}: valid"]
    lines += [
        f"  feed      {feed.venue} {feed.network} {', '.join(route.topics)} at "
        f"{route.url.split('?', 1)[0]}"
        for feed in config.feeds
        for route in feed.routes(config.sim.base_url)
    ]
    lines += [
        f"  account   {account.name}: {account.venue}{_account_type(account)} "
        f"{account.margin_mode} {account.wallet_balance} at {account.leverage}x, "
        f"{account.execution}"
        for account in config.accounts
    ]
    lines += [f"  strategy  {s.name} on {s.account}" for s in config.strategies]
    mqtt = config.mqtt
    lines.append(
        f"  mqtt      {mqtt.host}:{mqtt.port} prefix {mqtt.prefix}"
        + (" with TLS" if mqtt.tls_ca_file else "")
        + (f" as {mqtt.username}" if mqtt.username else "")
        if mqtt.enabled
        else "  mqtt      off"
    )
    lines.append(
        f"  state     {config.state.directory} (snapshots every "
        f"{config.state.snapshot_interval_s:g} s)"
        if config.state.enabled and config.accounts
        else "  state     not kept"
    )
    lines.append(f"  control   {config.control.socket}")
    if config.metrics.enabled:
        lines.append(f"  metrics   http://{config.metrics.host}:{config.metrics.port}/metrics")
    lines.append(f"  logs      {config.logging.file or 'terminal only'} ({config.logging.level})")
    return lines


def _other_kind(path: Path) -> str | None:
    """What a TOML file that is not a daemon configuration is, in words, when we can tell."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if "feeds" in document:
        return None
    if {"mark", "last"} & set(document) and "symbols" in document:
        return (
            f"{path} is a simulator scenario, not a daemon configuration: run it with "
            f"`marginbot sim --scenario {path}`"
        )
    if {"entry_price", "tick", "print_every"} & set(document):
        return (
            f"{path} is a story file, not a daemon configuration: run it with "
            f"`marginbot story --config {path}`"
        )
    if "fault" in document:
        return (
            f"{path} is a fault plan, not a daemon configuration: give it to "
            f"`marginbot sim --faults {path}`"
        )
    return None


def check_config(args: argparse.Namespace) -> int:
    other = _other_kind(args.file)
    if other is not None:
        raise ConfigError(other)
    config = load_config(args.file)
    for account in config.accounts:
        if account.execution == "testnet" and not args.offline:
            try:
                load_credentials(
                    account.name, account.secrets_file, needs_passphrase=account.venue == "okx"
                )  # present and private
            except ConfigError as exc:
                raise ConfigError(
                    f"{exc} (`config check --offline` checks the file alone)"
                ) from None
    for strategy in config.strategies:
        load_strategy(
            strategy.file,
            strategy.module,
            strategy.name,
            {"account": strategy.account, **strategy.params},
        )
    sys.stdout.write("\n".join(describe_config(config, args.file)) + "\n")
    return 0
