"""The daemon's TOML configuration, validated on load (docs/configuration.md).

Every problem is reported with the file, the key's path and what is expected; unknown keys are
errors, never silently ignored. Which network a feed reads (the local simulator, an exchange's
mainnet or its testnet) has no default: reading mainnet market data must be a stated choice.

    schema.py   the tables as frozen structs
    ranges.py   every number within what makes sense, every name safe in a topic or a file
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from bot.config.ranges import check_ranges
from bot.config.schema import (
    AccountConfig,
    AlertOverride,
    AlertsConfig,
    Config,
    ControlConfig,
    FeedConfig,
    FeesConfig,
    LoggingConfig,
    MetricsConfig,
    MqttConfig,
    Network,
    RecordingConfig,
    SimConfig,
    StateConfig,
    StrategyConfig,
    WebConfig,
)
from bot.errors import ConfigError
from bot.validation import explain

__all__ = [
    "AccountConfig",
    "AlertOverride",
    "AlertsConfig",
    "Config",
    "ControlConfig",
    "FeedConfig",
    "FeesConfig",
    "LoggingConfig",
    "MetricsConfig",
    "MqttConfig",
    "Network",
    "RecordingConfig",
    "SimConfig",
    "StateConfig",
    "StrategyConfig",
    "WebConfig",
    "accounts_digest",
    "config_digest",
    "load_config",
]


def accounts_digest(config: Config) -> str:
    """What a saved state must match: the accounts it holds the ledgers of."""
    return "sha256:" + hashlib.sha256(msgspec.json.encode(config.accounts)).hexdigest()


def config_digest(path: Path) -> str:
    """sha256 of the configuration file, recorded in session headers."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def load_config(path: Path) -> Config:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        config = msgspec.toml.decode(raw, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {explain(str(exc), 'the file')}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _check(config, path)
    try:
        check_ranges(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return config


def _check(config: Config, path: Path) -> None:
    if not config.feeds:
        raise ConfigError(f"{path}: feeds: give at least one [[feeds]] table")
    for index, feed in enumerate(config.feeds):
        where = f"{path}: feeds[{index}]"
        try:
            feed.routes(config.sim.base_url)
        except ConfigError as exc:
            key = "url" if feed.url is not None else "network"
            raise ConfigError(f"{where}.{key}: {exc}") from None
        if not feed.symbols:
            raise ConfigError(f'{where}.symbols: give at least one symbol, e.g. ["BTCUSDT"]')
        if feed.stale_after_s <= 0:
            raise ConfigError(f"{where}.stale_after_s: expected a positive number of seconds")
    _check_accounts(config, path)


def _check_accounts(config: Config, path: Path) -> None:
    names = [a.name for a in config.accounts]
    for index, account in enumerate(config.accounts):
        where = f"{path}: accounts[{index}]"
        if not account.name or names.count(account.name) > 1:
            raise ConfigError(f"{where}.name: give each account a unique, non-empty name")
        if account.wallet_balance < 0 or account.leverage < 1:
            raise ConfigError(f"{where}: wallet_balance must be ≥ 0 and leverage ≥ 1")
        if account.account_type is not None and account.venue != "bybit":
            raise ConfigError(
                f"{where}.account_type: {account.venue} accounts have one type; account_type "
                '("unified" or "classic") is for Bybit accounts: remove it'
            )
        if not any(f.venue == account.venue for f in config.feeds):
            raise ConfigError(
                f"{where}.venue: no feed reads {account.venue}; add a [[feeds]] "
                "table for it, or the account never sees a price"
            )
    for index, strategy in enumerate(config.strategies):
        if strategy.account not in names:
            raise ConfigError(
                f"{path}: strategies[{index}].account: {strategy.account!r} is "
                f"not an account; expected one of {', '.join(names) or 'none'}"
            )
    if config.state.snapshot_interval_s <= 0:
        raise ConfigError(f"{path}: state.snapshot_interval_s: expected a positive number")
    if config.logging.max_file_mb <= 0 or config.logging.backups < 0:
        raise ConfigError(f"{path}: logging: max_file_mb must be positive and backups zero or more")
    if config.recording.max_file_mb <= 0:
        raise ConfigError(f"{path}: recording.max_file_mb: expected a positive size in MB")
