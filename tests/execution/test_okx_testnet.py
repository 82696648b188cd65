"""OKX demo trading end to end: the daemon mirrors an OKX account's orders through real ccxt
(`okx`, sandbox mode) to the simulator's OKX v5 endpoints, which sign-check every request, and
reconciles: sizes in contracts, the margin mode with every order, stops as algo orders."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from bot.config import load_config
from bot.control.socket_server import send
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.values import MarginMode, OrderSide
from bot.daemon import Daemon
from bot.errors import InsufficientBalance, PositionError, RuleViolation
from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.testnet import mirror as mirrors
from bot.testnet.credentials import Credentials
from bot.testnet.errors import exchange_error
from bot.testnet.events import MirrorFailed, OrderMirrored
from tests.execution.test_testnet import Watch, count, mirrored_config

SWAP = "BTC-USDT-SWAP"
FLAT = scenario_from_dict(
    {
        "symbols": [SWAP],
        "tick_ms": 50,
        "hold_s": 60,
        "mark": [{"at": 0, "price": "10000"}],
        "last": [{"at": 0, "price": "10000"}],
    },
    "flat",
)
KEY = Credentials("sim-key", "sim-secret", "sim-passphrase")


async def _mirror(sim: Simulator, credentials: Credentials = KEY) -> mirrors.TestnetMirror:
    while sim.board.get("okx", SWAP) is None:
        await asyncio.sleep(0.02)
    mirror = mirrors.TestnetMirror(
        "d", "okx", mirrors.VENUES["okx"][0](credentials, sim.base_url())
    )
    await mirror.start()
    return mirror


async def test_orders_go_out_in_contracts_with_the_margin_mode_and_cancel_by_client_id() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("okx",))) as sim:
        mirror = await _mirror(sim)
        venue = sim.rest.okx
        try:
            assert mirror.contract_sizes[SWAP] == Decimal("0.01")
            isolated = venue.account.settings(SWAP)
            from bot.core.ledger.positions import SymbolSettings

            settings = SymbolSettings(MarginMode.ISOLATED, isolated.leverage)
            buy = OrderRequest(SWAP, OrderSide.BUY, OrderType.MARKET, Decimal("0.05"))
            assert isinstance(await mirror.place("d-1", buy, None, settings), OrderMirrored)
            position = venue.account.held(SWAP)
            assert position.qty == Decimal("0.05")  # 5 contracts of 0.01 BTC
            assert position.margin_mode is MarginMode.ISOLATED
            limit = OrderRequest(
                SWAP, OrderSide.SELL, OrderType.LIMIT, Decimal("0.05"), price=Decimal(11000),
                reduce_only=True,
            )  # fmt: skip
            assert isinstance(await mirror.place("d-2", limit, None, settings), OrderMirrored)
            assert venue.account.open_order_count(SWAP) == 1
            assert "d2" in venue.client_ids  # OKX client ids are letters and digits only
            assert isinstance(await mirror.cancel("d-2", SWAP), OrderMirrored)
            assert venue.account.open_order_count(SWAP) == 0
            stop = OrderRequest(
                SWAP, OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.05"),
                trigger_price=Decimal(9000), trigger_source=PriceSource.MARK, reduce_only=True,
            )  # fmt: skip
            assert isinstance(await mirror.place("d-3", stop, None, settings), OrderMirrored)
            [algo] = [o for o in venue.engine.desks["sim"].orders.values() if o.id in venue.algo]
            assert algo.request.type is OrderType.STOP_MARKET
            assert algo.trigger == Decimal(9000)
            assert algo.request.trigger_source is PriceSource.MARK
            assert isinstance(await mirror.cancel("d-3", SWAP), OrderMirrored)  # cancel-algos
            assert venue.account.open_order_count(SWAP) == 0
            too_big = OrderRequest(SWAP, OrderSide.BUY, OrderType.MARKET, Decimal(100))
            failure = await mirror.place("d-4", too_big, None, settings)
            assert isinstance(failure, MirrorFailed)
            assert "margin is insufficient (51008" in failure.reason
        finally:
            await mirror.close()
        sent = set(sim.rest.requests)
    assert {
        "POST /api/v5/trade/batch-orders",
        "POST /api/v5/trade/order-algo",
        "POST /api/v5/trade/cancel-order",
        "POST /api/v5/trade/cancel-algos",
        "GET /api/v5/public/instruments",
    } <= sent
    assert mirrors.okx_client_id("okx-isolated-12") == "okxisolated12"


async def test_a_wrong_passphrase_or_a_live_key_is_refused_in_words() -> None:
    async with Simulator(ScenarioSource(FLAT, venues=("okx",))) as sim:
        mirror = await _mirror(sim)
        try:
            mirror.exchange.password = "wrong"
            buy = OrderRequest(SWAP, OrderSide.BUY, OrderType.MARKET, Decimal("0.01"))
            failure = await mirror.place("d-1", buy)
            assert isinstance(failure, MirrorFailed)
            assert "passphrase" in failure.reason
            assert "wrong" not in failure.reason
        finally:
            await mirror.close()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('okx {"code":"1","data":[{"sCode":"51008","sMsg":"Insufficient"}],"msg":""}',
         InsufficientBalance),
        ('okx {"code":"1","data":[{"sCode":"51169","sMsg":"no position"}],"msg":""}',
         PositionError),
        ('okx {"code":"50113","msg":"Invalid Sign","data":[]}', RuleViolation),
    ],
)  # fmt: skip
def test_okx_codes_become_ours(text: str, kind: type) -> None:
    import ccxt

    assert isinstance(exchange_error(ccxt.ExchangeError(text)), kind)


async def test_the_daemon_mirrors_an_okx_account_and_reconciles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARGINBOT_OKD_API_KEY", "sim-key")
    monkeypatch.setenv("MARGINBOT_OKD_API_SECRET", "sim-secret")
    monkeypatch.setenv("MARGINBOT_OKD_API_PASSPHRASE", "sim-passphrase")
    async with Simulator(ScenarioSource(FLAT, venues=("okx",))) as sim:
        path = mirrored_config(tmp_path, sim, "okx", SWAP, "okd", 'margin_mode = "isolated"\n')
        config = load_config(path)
        out = io.BytesIO()
        watch = Watch(out)
        daemon = Daemon(config, path, io.StringIO(), events_out=out)
        running = asyncio.create_task(daemon.run())
        while (p := daemon.kernel.prices("okx", SWAP)) is None or p.last is None:
            await asyncio.sleep(0.02)
        # BTC-USDT-SWAP is not bundled: the daemon loaded it (tiers by size) through ccxt.
        instrument = daemon.kernel.account("okd").instrument(SWAP)
        assert instrument.tiers_by_quantity
        assert instrument.contract_value == Decimal("0.01")
        # The venue's tiers, in contracts on the wire, arrive in base units: 10,000 contracts
        # of 0.01 BTC start tier 2 (the simulator's table).
        assert [t.notional_floor for t in instrument.tiers.tiers] == [0, 100]
        assert [t.maint_margin_rate for t in instrument.tiers.tiers] == [
            Decimal("0.004"),
            Decimal("0.01"),
        ]
        socket = Path(config.control.socket)
        venue = sim.rest.okx
        leverage = await send(
            socket, {"cmd": "set_leverage", "account": "okd", "symbol": SWAP, "leverage": "10"}
        )
        assert leverage["ok"], leverage
        await watch.until(lambda e: count("order_mirrored")(e) >= 1)
        assert venue.account.settings(SWAP).leverage == Decimal(10)
        order = {
            "cmd": "place_order", "account": "okd", "symbol": SWAP, "side": "buy",
            "type": "market", "qty": "0.05",
        }  # fmt: skip
        reply = await send(socket, order)
        assert reply["ok"], reply
        await watch.until(lambda e: count("reconciled")(e) >= 1)
        held = venue.account.held(SWAP)
        assert held.qty == Decimal("0.05")
        assert held.margin_mode is MarginMode.ISOLATED
        stop = await send(
            socket,
            {
                "cmd": "set_tp_sl", "account": "okd", "symbol": SWAP, "stop_loss": "9000",
                "stop_loss_source": "mark",
            },
        )  # fmt: skip
        assert stop["ok"], stop
        await watch.until(lambda e: count("order_mirrored")(e) >= 3)
        [venue_stop] = [o for o in venue.engine.desks["sim"].orders.values() if o.id in venue.algo]
        assert venue_stop.trigger == Decimal(9000)
        assert venue_stop.request.reduce_only
        venue.account.wallet_balance += Decimal(50)
        daemon._reconcile_now["okd"].set()
        await watch.until(lambda e: count("reconciliation_drift")(e) >= 1)
        venue.clock_offset_s = 60
        await send(socket, {**order, "qty": "0.01"})
        await watch.until(lambda e: count("mirror_failed")(e) >= 1)
        daemon.stop.set()
        await running
    drifts = {e["drift"]["field"] for e in watch.events() if e["type"] == "reconciliation_drift"}
    assert drifts == {"USDT wallet balance"}
    [failure] = [e["reason"] for e in watch.events() if e["type"] == "mirror_failed"]
    assert "check this machine's clock" in failure


async def test_the_simulated_venue_answers_bodies_of_the_wrong_shape_in_words() -> None:
    """Signed requests whose bodies are not what the path takes get OKX's error envelope,
    never a server error, and the venue's account goes on."""
    async with Simulator(ScenarioSource(FLAT, venues=("okx",))) as sim:
        mirror = await _mirror(sim)
        exchange = mirror.exchange
        try:
            for call, body in (
                (exchange.privatePostTradeOrder, [{"instId": SWAP}]),
                (exchange.privatePostTradeBatchOrders, [{"instId": SWAP, "sz": "x"}] * 2),
                (exchange.privatePostTradeOrderAlgo, {"ordType": "trigger", "triggerPx": "q"}),
                (exchange.privatePostAccountSetLeverage, {"instId": SWAP, "lever": "ten"}),
                (exchange.privatePostTradeCancelAlgos, [{"algoId": 7}]),
            ):
                with pytest.raises(ccxt.BaseError, match=r'[cC]ode": "5'):  # OKX's envelope
                    await call(body)
            buy = OrderRequest(SWAP, OrderSide.BUY, OrderType.MARKET, Decimal("0.01"))
            assert isinstance(await mirror.place("d-9", buy), OrderMirrored)
        finally:
            await mirror.close()
