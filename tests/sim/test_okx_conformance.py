"""The simulator's OKX answers have the fields of OKX's own: the answer samples ccxt keeps in
the comments of its installed `okx.py` (OKX responses, MIT), read from the installed source so
that a ccxt upgrade re-checks them. Fetched through real ccxt, signed, from the simulator."""

from __future__ import annotations

import asyncio
import inspect
import json
from decimal import Decimal
from typing import Any

import ccxt.async_support.okx as ccxt_okx

from bot.core.orders.model import OrderRequest, OrderType
from bot.core.values import OrderSide
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.testnet import mirror as mirrors
from bot.testnet.credentials import Credentials
from tests.execution.test_okx_testnet import FLAT, SWAP


def ccxt_sample(after: str) -> Any:
    """The first commented JSON answer after `after` in ccxt's okx.py."""
    source = inspect.getsource(ccxt_okx)
    lines = source[source.index(after) :].splitlines()[1:]
    kept: list[str] = []
    depth = 0
    for line in lines:
        text = line.strip()
        if not text.startswith("#"):
            if kept:
                break
            continue
        body = text[1:].strip()
        if not kept and not body.startswith("{"):
            continue
        kept.append(body)
        depth += body.count("{") + body.count("[") - body.count("}") - body.count("]")
        if depth == 0:
            break
    return json.loads("\n".join(kept))


async def test_positions_and_balance_have_okxs_fields() -> None:
    position_sample = ccxt_sample("def parse_position(self, position: dict")
    balance_sample = ccxt_sample("response = await self.privateGetAccountBalance(")
    async with Simulator(ScenarioSource(FLAT, venues=("okx",))) as sim:
        while sim.board.get("okx", SWAP) is None:
            await asyncio.sleep(0.02)
        exchange = mirrors.VENUES["okx"][0](
            Credentials("sim-key", "sim-secret", "sim-passphrase"), sim.base_url()
        )
        mirror = mirrors.TestnetMirror("c", "okx", exchange)
        await mirror.start()
        try:
            buy = OrderRequest(SWAP, OrderSide.BUY, OrderType.MARKET, Decimal("0.02"))
            await mirror.place("c-1", buy)
            positions = await exchange.privateGetAccountPositions({"instType": "SWAP"})
            balance = await exchange.privateGetAccountBalance()
            parsed = await exchange.fetch_positions([exchange.markets_by_id[SWAP][0]["symbol"]])
        finally:
            await mirror.close()
    [row] = positions["data"]
    assert set(row) == set(position_sample)
    account = balance["data"][0]
    assert set(account) == set(balance_sample["data"][0])
    assert set(account["details"][0]) == set(balance_sample["data"][0]["details"][0])
    # ccxt reads them as OKX's: 2 contracts of 0.01 BTC, long in net mode.
    [position] = parsed
    assert position["contracts"] == 2
    assert position["contractSize"] == 0.01
    assert position["side"] == "long"
