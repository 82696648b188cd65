"""The daemon configuration's schema: one frozen struct per TOML table (docs/configuration.md).

Loading, range checks and cross-checks are in `bot.config` and `bot.config.ranges`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import msgspec

from bot.venues.spec import SPECS, FeedRoute

Network = Literal["sim", "mainnet", "testnet", "demo"]


class FeedConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    venue: Literal["binance", "bybit", "okx"]
    network: Network
    symbols: list[str]
    url: str | None = None  # overrides the network's host (a base), or a one-endpoint URL
    stale_after_s: float = 15.0

    def routes(self, sim_base: str) -> list[FeedRoute]:
        """The connections this feed keeps: one per venue endpoint (Binance: two)."""
        symbols = [s.upper() for s in self.symbols]
        return SPECS[self.venue].routes(self.network, symbols, sim_base, self.url)


class SimConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    base_url: str = "ws://127.0.0.1:8765"


class RecordingConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    enabled: bool = True
    directory: str = "logs/sessions"
    max_file_mb: int = 256
    compress: bool = True


class FeesConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    maker: Decimal
    taker: Decimal


class AccountConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A paper account. `execution = "paper"` fills locally and orders never leave the machine;
    `"testnet"` also mirrors every order to the venue's demo environment and reconciles."""

    name: str
    venue: Literal["binance", "bybit", "okx"]
    wallet_balance: Decimal
    # Bybit only: "unified" (every Bybit account now, the default) or "classic" (docs/margin.md)
    account_type: Literal["unified", "classic"] | None = None
    margin_mode: Literal["cross", "isolated"] = "cross"  # default for every symbol
    leverage: Decimal = Decimal(20)
    position_mode: Literal["one_way", "hedge"] = "one_way"
    execution: Literal["paper", "testnet"] = "paper"
    fees: FeesConfig | None = None
    # testnet execution: orders are mirrored to the venue's demo environment through ccxt
    exchange_url: str | None = None  # a REST base other than the venue's demo (the simulator)
    secrets_file: str | None = None  # else MARGINBOT_<ACCOUNT>_API_KEY / _API_SECRET
    reconcile_interval_s: float = 30.0


class ControlConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    socket: str = "logs/marginbot.sock"  # the local CLI talks to the daemon here


class MqttConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "marginbot"
    client_id: str = "marginbot"
    username: str | None = None
    password_env: str | None = None  # the password comes from this environment variable
    tls_ca_file: str | None = None  # TLS when set: the CA that signed the broker's certificate
    tls_cert_file: str | None = None  # client certificate (optional)
    tls_key_file: str | None = None
    keepalive_s: int = 30
    # Trader commands on `<prefix>/cmd`: off unless asked for, and then only signed ones, with
    # each account's command secret (docs/commands.md, Signing a command).
    commands: bool = False


class StrategyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str = msgspec.field(name="class")
    account: str = ""
    file: str | None = None
    module: str | None = None
    params: dict[str, Any] = {}


class AlertOverride(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Rule settings for one account and/or symbol; unset keys keep the [alerts] values."""

    account: str | None = None
    symbol: str | None = None
    near_liquidation: Decimal | None = None
    divergence: Decimal | None = None
    margin_ratio_levels: tuple[Decimal, ...] | None = None
    hysteresis: Decimal | None = None
    cooldown_s: int | None = None
    funding_threshold: Decimal | None = None


class AlertsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    near_liquidation: Decimal = Decimal("0.05")
    divergence: Decimal = Decimal("0.003")
    margin_ratio_levels: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.8"), Decimal("0.9"))
    hysteresis: Decimal = Decimal("0.2")
    cooldown_s: int = 60
    funding_threshold: Decimal = Decimal(1)
    outbox: str = "logs/outbox.sqlite"
    outbox_max: int = 100_000
    position_interval_s: float = 1.0  # retained position state, at most this often
    overrides: list[AlertOverride] = []


class StateConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Crash-safe state (docs/configuration.md): the journal and snapshots of the ledgers."""

    enabled: bool = True
    directory: str = "logs/state"
    snapshot_interval_s: float = 60.0
    # "process": survive a killed daemon; "power": also a power cut (an fsync per input)
    durability: Literal["process", "power"] = "process"
    keep_journal: bool = False  # keep every input (an audit trail) instead of pruning


class MetricsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Prometheus /metrics and /healthz (docs/operations.md); 0 as the port picks a free one."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9464


class WebConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The live web view (docs/web.md): read-only, on loopback unless told otherwise."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8050  # 0 picks a free one; the same host and port as [metrics] share a server
    refresh_s: float = 0.5  # at most this often a browser is sent new figures
    history_points: int = 3600  # price points kept per symbol for the chart (one per second)


class LoggingConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """JSON lines to a rotating file, as well as to the terminal (readable there)."""

    file: str | None = "logs/marginbot.jsonl"  # none: the terminal only
    level: Literal["debug", "info", "warning", "error"] = "info"
    max_file_mb: int = 50
    backups: int = 5


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    feeds: list[FeedConfig]
    sim: SimConfig = SimConfig()
    recording: RecordingConfig = RecordingConfig()
    accounts: list[AccountConfig] = []
    control: ControlConfig = ControlConfig()
    mqtt: MqttConfig = MqttConfig()
    strategies: list[StrategyConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    state: StateConfig = StateConfig()
    metrics: MetricsConfig = MetricsConfig()
    web: WebConfig = WebConfig()
    logging: LoggingConfig = LoggingConfig()
