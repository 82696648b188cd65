"""Range checks for a loaded configuration: every number within what makes sense, every name
safe in an MQTT topic and a file name. Each problem names its key (docs/configuration.md).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from bot.core import bounds
from bot.errors import ConfigError, InputError

if TYPE_CHECKING:
    from bot.config.schema import Config

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
DAY_S = 86_400.0


def _number(key: str, value: float, low: float, high: float, low_open: bool = True) -> None:
    too_low = value <= low if low_open else value < low
    if (isinstance(value, float) and not math.isfinite(value)) or too_low or value > high:
        left = "(" if low_open else "["
        raise ConfigError(f"{key}: {value} is outside {left}{low:g}, {high:g}]")


def _decimal(key: str, check: object, value: Decimal) -> None:
    try:
        check(key, value)  # type: ignore[operator]
    except InputError as exc:
        raise ConfigError(str(exc)) from None


def _fraction(key: str, value: Decimal) -> None:
    if not value.is_finite() or not Decimal(0) < value < Decimal(1):
        raise ConfigError(f"{key}: {value} is outside (0, 1)")


def _url(key: str, value: str, schemes: tuple[str, ...]) -> None:
    parsed = urlparse(value)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if parsed.scheme not in schemes or not parsed.hostname or port == -1:
        raise ConfigError(f"{key}: {value!r} is not a {' or '.join(schemes)} URL with a host")


def check_ranges(config: Config) -> None:
    """Raise ConfigError naming the first key out of range."""
    _url("sim.base_url", config.sim.base_url, ("ws", "wss"))
    for i, feed in enumerate(config.feeds):
        _number(f"feeds[{i}].stale_after_s", feed.stale_after_s, 0, DAY_S)
        if feed.url is not None:
            _url(f"feeds[{i}].url", feed.url, ("ws", "wss"))
    for i, account in enumerate(config.accounts):
        where = f"accounts[{i}]"
        if not NAME.fullmatch(account.name):
            raise ConfigError(
                f"{where}.name: {account.name!r}: letters, digits, '_', '.', '-' (at most 64), "
                "as it becomes part of MQTT topics and file names"
            )
        _decimal(f"{where}.wallet_balance", bounds.amount, account.wallet_balance)
        if account.wallet_balance < 0:
            raise ConfigError(f"{where}.wallet_balance: {account.wallet_balance} is negative")
        _decimal(f"{where}.leverage", bounds.leverage, account.leverage)
        _number(f"{where}.reconcile_interval_s", account.reconcile_interval_s, 0, DAY_S)
        if account.exchange_url is not None:
            _url(f"{where}.exchange_url", account.exchange_url, ("http", "https"))
        if account.fees is not None:
            for name, fee in (("maker", account.fees.maker), ("taker", account.fees.taker)):
                _decimal(f"{where}.fees.{name}", bounds.rate, fee)
                if not Decimal("-0.01") <= fee <= Decimal("0.01"):
                    raise ConfigError(
                        f"{where}.fees.{name}: {fee} is outside [-0.01, 0.01] (a fee rate: "
                        "0.0005 is 0.05 %)"
                    )
    mqtt = config.mqtt
    _number("mqtt.port", mqtt.port, 1, 65535, low_open=False)
    _number("mqtt.keepalive_s", mqtt.keepalive_s, 0, 65535, low_open=False)
    if not PREFIX.fullmatch(mqtt.prefix) or len(mqtt.prefix) > 128:
        raise ConfigError(
            f"mqtt.prefix: {mqtt.prefix!r}: topic levels of letters, digits, '_', '.', '-' "
            "separated by '/', without MQTT wildcards (# +)"
        )
    if not NAME.fullmatch(mqtt.client_id):
        raise ConfigError(f"mqtt.client_id: {mqtt.client_id!r}: letters, digits, '_', '.', '-'")
    _number("metrics.port", config.metrics.port, 0, 65535, low_open=False)
    _number("web.port", config.web.port, 0, 65535, low_open=False)
    _number("web.refresh_s", config.web.refresh_s, 0.05, 60, low_open=False)
    _number("web.history_points", config.web.history_points, 10, 1_000_000, low_open=False)
    _check_alerts(config)
    _number("state.snapshot_interval_s", config.state.snapshot_interval_s, 0, DAY_S)
    _number("recording.max_file_mb", config.recording.max_file_mb, 0, 1_000_000)
    _number("logging.max_file_mb", config.logging.max_file_mb, 0, 1_000_000)
    _number("logging.backups", config.logging.backups, 0, 1000, low_open=False)


def _check_alerts(config: Config) -> None:
    alerts = config.alerts
    tables = [("alerts", alerts)] + [
        (f"alerts.overrides[{i}]", o) for i, o in enumerate(alerts.overrides)
    ]
    for where, table in tables:
        for key in ("near_liquidation", "divergence", "hysteresis"):
            value = getattr(table, key)
            if value is not None:
                _fraction(f"{where}.{key}", value)
        for n, level in enumerate(table.margin_ratio_levels or ()):
            _fraction(f"{where}.margin_ratio_levels[{n}]", level)
        if table.cooldown_s is not None:
            _number(f"{where}.cooldown_s", table.cooldown_s, 0, DAY_S, low_open=False)
        if table.funding_threshold is not None:
            _decimal(f"{where}.funding_threshold", bounds.amount, table.funding_threshold)
            if table.funding_threshold < 0:
                raise ConfigError(
                    f"{where}.funding_threshold: {table.funding_threshold} is negative"
                )
    _number("alerts.outbox_max", alerts.outbox_max, 0, 100_000_000)
    _number("alerts.position_interval_s", alerts.position_interval_s, 0, DAY_S)
