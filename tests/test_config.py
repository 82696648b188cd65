"""Configuration files: the shipped ones load, and each kind of mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "name", ["default.toml", "sim-crash.toml", "okx-crash.toml", "example-mainnet-data.toml"]
)
def test_shipped_configs_load(name: str) -> None:
    config = load_config(ROOT / "config" / name)
    assert config.feeds
    for feed in config.feeds:
        for route in feed.routes(config.sim.base_url):
            assert route.url.startswith(("ws://", "wss://"))


def test_default_reads_the_local_simulator_on_binances_two_endpoints() -> None:
    [feed] = load_config(ROOT / "config/default.toml").feeds
    public, market = feed.routes("ws://127.0.0.1:8765")
    assert public.url == (
        "ws://127.0.0.1:8765/public/stream?streams=btcusdt@trade/btcusdt@bookTicker"
    )
    assert market.url == "ws://127.0.0.1:8765/market/stream?streams=btcusdt@markPrice@1s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[feeds]]\nvenue = "binance"\nsymbols = ["BTCUSDT"]\n',
            "feeds[0]: object missing required field `network`",
        ),
        (
            '[[feeds]]\nvenue = "kraken"\nnetwork = "sim"\nsymbols = ["X"]\n',
            "feeds[0].venue: invalid",
        ),
        (
            '[[feeds]]\nvenue = "okx"\nnetwork = "testnet"\nsymbols = ["X"]\n',
            "feeds[0].network: okx has no 'testnet' network; choose one of sim, mainnet, demo",
        ),
        (
            '[[feeds]]\nvenue = "bybit"\nnetwork = "sim"\nsymbols = ["X"]\nstale = 3\n',
            "unknown field `stale`",
        ),
        ('[[feeds]]\nvenue = "bybit"\nnetwork = "sim"\nsymbols = []\n', "feeds[0].symbols"),
        ("feeds = []\n", "give at least one [[feeds]] table"),
        ("[[feeds]\n", "not valid TOML"),
        (
            '[recording]\nmax_file_mb = 0\n[[feeds]]\nvenue = "bybit"\nnetwork = "sim"\n'
            'symbols = ["X"]\n',
            "recording.max_file_mb",
        ),
    ],
)
def test_config_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    "name",
    [
        "paper.toml",
        "example-binance-testnet.toml",
        "example-bybit-testnet.toml",
        "example-okx-demo.toml",
    ],
)
def test_account_configs_load(name: str) -> None:
    config = load_config(ROOT / "config" / name)
    assert config.accounts


def test_testnet_account_without_credentials_is_refused_at_start(monkeypatch) -> None:
    import io

    from bot.daemon import Daemon

    monkeypatch.delenv("MARGINBOT_BINANCE_DEMO_API_KEY", raising=False)
    config = load_config(ROOT / "config/example-binance-testnet.toml")
    with pytest.raises(ConfigError, match="MARGINBOT_BINANCE_DEMO_API_KEY"):
        Daemon(config, None, io.StringIO())


BASE = (
    '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
    '[[accounts]]\nname = "iso"\nvenue = "binance"\nwallet_balance = "2000"\n'
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("", "[mqtt]\nport = 70000\n"), "mqtt.port: 70000 is outside [1, 65535]"),
        (("", "[mqtt]\nport = -1\n"), "mqtt.port: -1 is outside [1, 65535]"),
        (('network = "sim"', 'network = "sim"\nurl = "ws//nohost"'), "feeds[0].url"),
        (
            ('name = "iso"', 'name = "iso"\nleverage = "Infinity"'),
            "leverage: Infinity is not a finite number",
        ),
        (
            ('wallet_balance = "2000"', 'wallet_balance = "1e400"'),
            "wallet_balance: 1E+400 is outside",
        ),
        (('name = "iso"', 'name = "is#o"'), "accounts[0].name: 'is#o'"),
        (("", '[mqtt]\nprefix = "a/+/b"\n'), "mqtt.prefix: 'a/+/b'"),
        (("", '[mqtt]\nprefix = "a/#"\n'), "mqtt.prefix: 'a/#'"),
        (('symbols = ["BTCUSDT"]', 'symbols = ["BTCUSDT"]\nstale_after_s = -1'), "stale_after_s"),
        (('symbols = ["BTCUSDT"]', 'symbols = ["BTCUSDT"]\nstale_after_s = nan'), "stale_after_s"),
        (("", "[state]\nsnapshot_interval_s = -5\n"), "snapshot_interval_s"),
        (("", "[recording]\nmax_file_mb = -1\n"), "max_file_mb"),
        (('name = "iso"', 'name = "iso"\nfees = { maker = "-5", taker = "0.0005" }'), "fees.maker"),
        (
            ("", '[alerts]\nmargin_ratio_levels = ["0.5", "1.5"]\n'),
            "margin_ratio_levels[1]: 1.5 is outside (0, 1)",
        ),
        (("", '[alerts]\nnear_liquidation = "0"\n'), "near_liquidation: 0 is outside (0, 1)"),
        (("", "[metrics]\nport = 99999\n"), "metrics.port"),
        (("", "[web]\nport = 65536\n"), "web.port: 65536 is outside"),
        (("", "[web]\nrefresh_s = 0\n"), "web.refresh_s: 0.0 is outside [0.05, 60]"),
        (("", "[web]\nhistory_points = 1\n"), "web.history_points"),
        (("", '[web]\nenabled = true\nwho = "all"\n'), "who"),
        (("", '[sim]\nbase_url = "http://x"\n'), "sim.base_url"),
    ],
)
def test_config_values_out_of_range_are_refused_by_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    text = BASE.replace(old, new, 1) if old else BASE + new
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
