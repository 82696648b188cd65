"""Testnet execution: real ccxt against the simulator's signed endpoints, the reconciler, and
exchange errors mapped to ours."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import ccxt
import orjson
import pytest

from bot.config import load_config
from bot.control.socket_server import send
from bot.core.ledger.figures import account_figures
from bot.daemon import Daemon
from bot.errors import (
    ConfigError,
    InsufficientBalance,
    PositionError,
    RateLimited,
    RuleViolation,
    TransientError,
    UnknownInstrument,
)
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.testnet.credentials import Credentials, load_credentials
from bot.testnet.errors import exchange_error
from bot.testnet.reconcile import Tolerance, compare
from tests.conftest import make_account

FLAT = scenario_from_dict(
    {
        "symbols": ["BTCUSDT"],
        "tick_ms": 50,
        "hold_s": 60,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            ccxt.ExchangeError('binanceusdm {"code": -2019, "msg": "Margin is insufficient."}'),
            InsufficientBalance,
            "margin is insufficient (-2019: Margin is insufficient.)",
        ),
        (
            ccxt.ExchangeError('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}'),
            PositionError,
            "reduce-only",
        ),
        (
            ccxt.ExchangeError('binanceusdm {"code":-1121,"msg":"Invalid symbol."}'),
            UnknownInstrument,
            "does not list this symbol",
        ),
        (
            ccxt.ExchangeError(
                'binanceusdm {"code":-1021,"msg":"Timestamp for this request is outside '
                'of the recvWindow."}'
            ),
            TransientError,
            "check this machine's clock",
        ),
        (ccxt.RateLimitExceeded("binanceusdm 429 Too Many Requests"), RateLimited, "rate limit"),
        (
            ccxt.ExchangeError('bybit {"retCode":110007,"retMsg":"ab not enough"}'),
            InsufficientBalance,
            "110007",
        ),
        (
            ccxt.ExchangeError('binanceusdm {"code":-4131,"msg":"PERCENT_PRICE"}'),
            RuleViolation,
            "refused the request (-4131: PERCENT_PRICE)",
        ),
        (
            ccxt.AuthenticationError("binanceusdm GET https://x/?signature=abc123 401"),
            RuleViolation,
            "check the credentials",
        ),
    ],
)
def test_exchange_errors_become_ours(exc: Exception, kind: type, words: str) -> None:
    error = exchange_error(exc)
    assert type(error) is kind
    assert words in str(error)
    assert "signature=abc123" not in str(error)  # URLs (with signatures) never leak


def test_compare_matches_and_finds_drift() -> None:
    account = make_account("1000")
    from bot.core.events import Fill
    from bot.core.values import OrderSide

    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal("0.5"), Decimal(10_000)))
    local = account_figures(account)
    position = {
        "symbol": "BTC/USDT:USDT",
        "info": {"symbol": "BTCUSDT"},
        "contracts": 0.5,
        "side": "long",
        "entryPrice": 10000.0,
        "liquidationPrice": 8032.13,
    }
    assert compare("a", local, [position], Decimal(1000), "USDT", Tolerance()) == []
    drifts = compare(
        "a",
        local,
        [{**position, "contracts": 0.4}],
        Decimal("1003.5"),
        "USDT",
        Tolerance(),
    )
    assert [d.field for d in drifts] == ["position size", "USDT wallet balance"]
    assert drifts[0].describe() == "[a] BTCUSDT position size: local 0.5, exchange 0.4"


def test_compare_keys_positions_and_leverage_by_the_venues_market_id() -> None:
    """ccxt's Bybit position carries the unified symbol, also in `info.symbol` when it came
    from a flat or a cross row: matched through the market map, a leverage drift shows."""
    from bot.core.events import Fill
    from bot.core.values import OrderSide

    account = make_account("1000")
    account.apply_fill(Fill("BTCUSDT", OrderSide.BUY, Decimal("0.5"), Decimal(10_000)))
    local = account_figures(account)
    position = {
        "symbol": "BTC/USDT:USDT",
        "info": {"symbol": "BTC/USDT:USDT"},
        "contracts": 0.5,
        "side": "long",
        "entryPrice": 10000.0,
        "liquidationPrice": None,  # a unified cross row: liqPrice ""
    }
    ids = {"BTC/USDT:USDT": "BTCUSDT"}
    assert compare("a", local, [position], Decimal(1000), "USDT", Tolerance(), None, ids) == []
    [drift] = compare(
        "a", local, [position], Decimal(1000), "USDT", Tolerance(), {"BTCUSDT": Decimal(5)}, ids
    )
    assert drift.describe() == "[a] BTCUSDT leverage: local 10, exchange 5"


def test_the_binance_wallet_is_the_wallet_not_the_margin_balance() -> None:
    from bot.testnet.reconcile import venue_wallet

    # ccxt's `total` for Binance is marginBalance: wallet 9,999.7 with +10 unrealized.
    balance = {
        "USDT": {"total": 10009.7, "free": 9000.0},
        "info": {
            "assets": [
                {"asset": "BNB", "walletBalance": "1.5", "marginBalance": "1.5"},
                {"asset": "USDT", "walletBalance": "9999.70000000", "marginBalance": "10009.7"},
            ]
        },
    }
    assert venue_wallet("binance", balance, "USDT") == Decimal("9999.7")
    assert venue_wallet("bybit", {"USDT": {"total": "3322.25896609"}}, "USDT") == Decimal(
        "3322.25896609"
    )
    assert venue_wallet("binance", {"USDT": {"total": 1.0}, "info": {}}, "USDT") is None
    local = account_figures(make_account("9999.7"))
    assert (
        compare("a", local, [], venue_wallet("binance", balance, "USDT"), "USDT", Tolerance()) == []
    )


def test_credentials_from_env_or_a_private_secrets_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MARGINBOT_MY_DEMO_API_KEY", "k")
    monkeypatch.setenv("MARGINBOT_MY_DEMO_API_SECRET", "s")
    assert load_credentials("my-demo", None) == Credentials("k", "s")
    assert "'s'" not in repr(load_credentials("my-demo", None))  # the secret never shows
    with pytest.raises(ConfigError, match="MARGINBOT_MY_DEMO_API_PASSPHRASE"):
        load_credentials("my-demo", None, needs_passphrase=True)
    monkeypatch.setenv("MARGINBOT_MY_DEMO_API_PASSPHRASE", "p")
    assert load_credentials("my-demo", None, needs_passphrase=True).passphrase == "p"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[other]\napi_key = "key-1"\napi_secret = "topsecret"\n')
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users; run `chmod 600"):
        load_credentials("other", str(secrets))
    secrets.chmod(0o600)
    assert load_credentials("other", str(secrets)) == Credentials("key-1", "topsecret")
    secrets.write_text('[other]\napi_key = "k"\napi_secret = "s"\napi_passphrase = "pp"\n')
    assert load_credentials("other", str(secrets), needs_passphrase=True).passphrase == "pp"
    with pytest.raises(ConfigError) as error:
        load_credentials("nobody", None)
    assert "MARGINBOT_NOBODY_API_KEY" in str(error.value)
    assert "topsecret" not in str(error.value)


def mirrored_config(
    tmp_path: Path, sim: Simulator, venue: str, symbol: str, account: str, more: str
) -> Path:
    """A daemon config with one testnet account of `venue` mirrored to the simulator; `more`:
    the account's further keys and tables (TOML lines)."""
    path = tmp_path / f"{venue}.toml"
    path.write_text(
        f'[sim]\nbase_url = "{sim.base_url("ws")}"\n'
        f'[[feeds]]\nvenue = "{venue}"\nnetwork = "sim"\nsymbols = ["{symbol}"]\n'
        f'[[accounts]]\nname = "{account}"\nvenue = "{venue}"\nwallet_balance = "10000"\n'
        'leverage = "20"\nexecution = "testnet"\n'
        f'exchange_url = "{sim.base_url()}"\nreconcile_interval_s = 60\n'
        f"{more}"
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n[mqtt]\nenabled = false\n'
        "[recording]\nenabled = false\n"
    )
    return path


class Watch:
    def __init__(self, out: io.BytesIO) -> None:
        self.out = out

    def events(self) -> list[dict]:
        return [orjson.loads(line) for line in self.out.getvalue().splitlines()]

    async def until(self, predicate: Callable[[list[dict]], bool], timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self.events()):
            seen = [
                (e["type"], e.get("reason") or e.get("order_id") or e.get("drift"))
                for e in self.events()
            ]
            assert asyncio.get_running_loop().time() < deadline, f"timed out; saw {seen}"
            await asyncio.sleep(0.05)


def count(kind: str) -> Callable[[list[dict]], int]:
    return lambda events: sum(e["type"] == kind for e in events)


async def test_orders_mirror_to_the_venue_and_reconcile(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARGINBOT_DEMO_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_DEMO_API_SECRET", "sim-secret")
    async with Simulator(ScenarioSource(FLAT, venues=("binance",))) as sim:
        fees = '[accounts.fees]\nmaker = "0.0002"\ntaker = "0.0005"\n'
        path = mirrored_config(tmp_path, sim, "binance", "BTCUSDT", "demo", fees)
        config = load_config(path)
        out = io.BytesIO()
        watch = Watch(out)
        daemon = Daemon(config, path, io.StringIO(), events_out=out)
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("binance", "BTCUSDT").last is None:
            await asyncio.sleep(0.02)
        socket = Path(config.control.socket)
        venue = sim.rest.exchange

        async def command(**fields: object) -> dict:
            if fields["cmd"] == "place_order":
                fields["symbol"] = "BTCUSDT"
            reply = await send(socket, {"account": "demo", **fields})
            assert reply["ok"], reply
            return reply

        await command(cmd="place_order", side="buy", type="market", qty="0.01")
        await watch.until(lambda e: count("reconciled")(e) >= 1)
        assert venue.account.held("BTCUSDT").qty == Decimal("0.01")
        [mirrored] = [e for e in watch.events() if e["type"] == "order_mirrored"]
        assert (mirrored["order_id"], mirrored["venue_status"]) == ("demo-1", "closed")

        reply = await command(
            cmd="place_order",
            side="sell",
            type="limit",
            qty="0.01",
            price="11000",
            reduce_only=True,
        )
        await watch.until(lambda e: count("order_mirrored")(e) >= 2)
        assert venue.account.open_order_count("BTCUSDT") == 1
        await command(cmd="cancel_order", order_id=reply["events"][0]["order_id"])
        await watch.until(lambda e: count("order_mirrored")(e) >= 3)
        assert venue.account.open_order_count("BTCUSDT") == 0

        await send(
            socket,
            {"cmd": "set_leverage", "account": "demo", "symbol": "BTCUSDT", "leverage": "15"},
        )  # mirrored: the venue follows
        await watch.until(lambda e: count("order_mirrored")(e) >= 4)
        assert venue.account.settings("BTCUSDT").leverage == 15
        venue.account.set_leverage("BTCUSDT", Decimal(25))  # changed on the venue behind us
        venue.account.wallet_balance += Decimal(50)  # the exchange books something we did not
        daemon._reconcile_now["demo"].set()
        # Both drifts, possibly from two reconciliations (one may have been in flight).
        await watch.until(
            lambda e: (
                {"leverage 25", "USDT wallet balance"}
                <= {
                    f"{d['drift']['field']} {d['drift']['remote']}"
                    if d["drift"]["field"] == "leverage"
                    else d["drift"]["field"]
                    for d in e
                    if d["type"] == "reconciliation_drift"
                }
            )
        )
        drifts = {
            e["drift"]["field"]: e["drift"]
            for e in watch.events()
            if e["type"] == "reconciliation_drift"
        }
        assert set(drifts) == {"leverage", "USDT wallet balance"}
        assert (drifts["leverage"]["local"], drifts["leverage"]["remote"]) == ("15", "25"), [
            e for e in watch.events() if e["type"] in ("reconciliation_drift", "setting_changed")
        ]

        sim.rest.clock_offset_ms = 60_000  # the exchange's clock runs a minute ahead
        await command(cmd="place_order", side="buy", type="market", qty="0.01")
        await watch.until(lambda e: count("mirror_failed")(e) >= 1)
        sim.rest.clock_offset_ms = 0
        venue.account.wallet_balance = Decimal(1)  # the demo account is nearly empty
        await command(cmd="place_order", side="buy", type="market", qty="0.02")
        await watch.until(lambda e: count("mirror_failed")(e) >= 2)
        daemon.stop.set()
        await running
    failures = [e["reason"] for e in watch.events() if e["type"] == "mirror_failed"]
    assert "check this machine's clock" in failures[0]
    assert "margin is insufficient (-2019" in failures[1]
    assert os.environ["MARGINBOT_DEMO_API_SECRET"] not in out.getvalue().decode()


async def test_bybit_orders_mirror_through_sandbox_mode_and_reconcile(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MARGINBOT_BYB_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_BYB_API_SECRET", "sim-secret")
    async with Simulator(ScenarioSource(FLAT, venues=("bybit",))) as sim:
        fees = '[accounts.fees]\nmaker = "0.0002"\ntaker = "0.00055"\n'
        path = mirrored_config(tmp_path, sim, "bybit", "BTCUSDT", "byb", fees)
        config = load_config(path)
        out = io.BytesIO()
        watch = Watch(out)
        daemon = Daemon(config, path, io.StringIO(), events_out=out)
        running = asyncio.create_task(daemon.run())
        while daemon.engine.prices.get("bybit", "BTCUSDT").last is None:
            await asyncio.sleep(0.02)
        # Bybit instruments are not bundled: the daemon loaded them from the venue via ccxt.
        instrument = daemon.engine.desks["byb"].account.instrument("BTCUSDT")
        assert instrument.tiers.tiers[0].maint_margin_rate == Decimal("0.005")
        socket = Path(config.control.socket)
        venue = sim.rest.bybit
        reply = await send(
            socket,
            {
                "cmd": "place_order",
                "account": "byb",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "0.01",
            },
        )
        assert reply["ok"], reply
        await watch.until(lambda e: count("reconciled")(e) >= 1)
        assert venue.account.held("BTCUSDT").qty == Decimal("0.01")
        stop = await send(
            socket,
            {
                "cmd": "set_tp_sl",
                "account": "byb",
                "symbol": "BTCUSDT",
                "stop_loss": "9000",
                "stop_loss_source": "mark",
            },
        )
        assert stop["ok"], stop
        await watch.until(lambda e: count("order_mirrored")(e) >= 2)
        assert venue.account.open_order_count("BTCUSDT") == 1
        [venue_stop] = [
            o for o in venue.engine.desks["sim"].orders.values() if o.status.value == "untriggered"
        ]
        assert venue_stop.trigger == Decimal(9000)
        assert venue_stop.request.trigger_source.value == "mark"
        assert venue_stop.request.reduce_only
        venue.account.wallet_balance += Decimal(50)
        daemon._reconcile_now["byb"].set()
        await watch.until(lambda e: count("reconciliation_drift")(e) >= 1)
        sim.rest.bybit.clock_offset_ms = 60_000
        await send(
            socket,
            {
                "cmd": "place_order",
                "account": "byb",
                "symbol": "BTCUSDT",
                "side": "buy",
                "type": "market",
                "qty": "0.01",
            },
        )
        await watch.until(lambda e: count("mirror_failed")(e) >= 1)
        daemon.stop.set()
        await running
    drifts = {e["drift"]["field"] for e in watch.events() if e["type"] == "reconciliation_drift"}
    assert drifts == {"USDT wallet balance"}
    [failure] = [e["reason"] for e in watch.events() if e["type"] == "mirror_failed"]
    assert "check this machine's clock" in failure


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_mirror_cancels_with_the_venues_own_client_id_parameter(venue: str) -> None:
    from bot.core.orders.model import OrderRequest, OrderType
    from bot.core.values import OrderSide
    from bot.testnet.events import OrderMirrored
    from bot.testnet.mirror import VENUES, TestnetMirror

    async with Simulator(ScenarioSource(FLAT, venues=(venue,))) as sim:
        while not sim.board.symbols:
            await asyncio.sleep(0.02)
        mirror = TestnetMirror(
            "d", venue, VENUES[venue][0](Credentials("sim-key", "sim-secret"), sim.base_url())
        )
        await mirror.start()
        try:
            book = sim.rest.exchange if venue == "binance" else sim.rest.bybit
            await mirror.place(
                "d-1", OrderRequest("BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.01"))
            )
            await mirror.place(
                "d-2",
                OrderRequest(
                    "BTCUSDT",
                    OrderSide.SELL,
                    OrderType.LIMIT,
                    Decimal("0.01"),
                    price=Decimal(11000),
                    reduce_only=True,
                ),
            )
            assert book.account.open_order_count("BTCUSDT") == 1
            assert isinstance(await mirror.cancel("d-2", "BTCUSDT"), OrderMirrored)
            assert book.account.open_order_count("BTCUSDT") == 0
        finally:
            await mirror.close()


@pytest.mark.parametrize(
    ("venue", "network", "host"),
    [
        ("binance", "mainnet", "https://fapi.binance.com/"),
        ("binance", "testnet", "https://demo-fapi.binance.com/"),
        ("binance", "demo", "https://demo-fapi.binance.com/"),
        ("bybit", "mainnet", "https://api.{hostname}"),
        ("bybit", "testnet", "https://api-testnet.{hostname}"),
        ("bybit", "demo", "https://api-demo.{hostname}"),
    ],
)
async def test_instruments_for_a_testnet_feed_load_from_the_testnet(
    venue: str, network: str, host: str
) -> None:
    from bot.testnet.mirror import public_exchange

    exchange = public_exchange(venue, None, network)
    try:
        api = exchange.urls["api"]["fapiPublic" if venue == "binance" else "public"]
        assert api.startswith(host)
    finally:
        await exchange.close()
