"""The simulator answers in the exchanges' shapes: every field of every real recorded answer
(../shared/data/ccxt/rest-answers.json, bybit-position-answers.json) is compared, by name, with
the simulator's answer to the same request made through real ccxt, signed as on the exchange.

What is compared, per field: that the simulator sends it, with the same JSON kind (a decimal as
a string, a bool as a bool, an integer as a number); where the exchange sends "" (Bybit's
liquidation price of a unified cross row, a perpetual's delivery fields), the simulator sends
"" too. ccxt's recorder kept some integers as strings ("0", "1701270042059"): for those, a
string or a number is accepted. A field the exchange does not send is reported as well.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sim.scenario import scenario_from_dict
from bot.sim.server import Simulator
from bot.sim.sources import ScenarioSource
from bot.testnet import mirror as mirrors
from bot.testnet.credentials import Credentials
from tests.conftest import SHARED_DATA, shared_data

REST = "ccxt/rest-answers.json"
POSITIONS = "ccxt/bybit-position-answers.json"
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


def _real_answers(root: Path) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((root / REST).read_text())["answers"]
    records = json.loads((root / POSITIONS).read_text())["fixtures"]["records"]
    [flat] = [r for r in records if r["description"].startswith("linear position (size 0")]
    answers["BYBIT_POSITION_LIST_FLAT"] = flat["httpResponse"]
    return answers


def _fields(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf and container; lists by their first element (`[]`)."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _fields(item, f"{path}.{key}")
    elif isinstance(value, list) and value:
        yield from _fields(value[0], f"{path}[]")


def _cases() -> list[Any]:
    if not (SHARED_DATA / REST).exists() or not (SHARED_DATA / POSITIONS).exists():
        return [pytest.param("missing", id="shared-data-missing")]
    return [
        path
        for name, answer in _real_answers(SHARED_DATA).items()
        for path, _ in _fields(answer, name)
        if path != name and "nextPageCursor" not in path  # a cursor is opaque
    ]


async def _collect(base_url: str, sim: Simulator) -> dict[str, Any]:
    """The simulator's answers to the requests behind each recorded answer, through ccxt."""
    binance = mirrors.binance_exchange(Credentials("sim-key", "sim-secret"), base_url)
    bybit = mirrors.bybit_exchange(Credentials("sim-key", "sim-secret"), base_url)
    try:
        await binance.load_markets()
        await bybit.load_markets()
        order = await binance.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.2",
             "price": "11001", "timeInForce": "GTC"}
        )  # fmt: skip
        await binance.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.009"}
        )
        flat = await bybit.privateGetV5PositionList({"category": "linear", "symbol": "BTCUSDT"})
        create = await bybit.privatePostV5OrderCreate(
            {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
             "qty": "0.01", "orderLinkId": "1609920528444036608"}
        )  # fmt: skip
        return {
            "BINANCE_ACCOUNT": await binance.fapiPrivateV2GetAccount(),
            "BINANCE_ORDER": order,
            "BINANCE_POSITION_RISK_V3": await binance.fapiPrivateV3GetPositionRisk(
                {"symbol": "BTCUSDT"}
            ),
            "BINANCE_SYMBOL_CONFIG": await binance.fapiPrivateGetSymbolConfig(
                {"symbol": "BTCUSDT"}
            ),
            "BYBIT_CREATE": create,
            "BYBIT_POSITION_LIST": await bybit.privateGetV5PositionList(
                {"category": "linear", "symbol": "BTCUSDT"}
            ),
            "BYBIT_POSITION_LIST_FLAT": flat,
            "BYBIT_TICKERS": await bybit.publicGetV5MarketTickers(
                {"category": "linear", "symbol": "BTCUSDT"}
            ),
            "BYBIT_WALLET": await bybit.privateGetV5AccountWalletBalance(
                {"accountType": "UNIFIED"}
            ),
        }
    finally:
        await binance.close()
        await bybit.close()


async def _run_simulator() -> dict[str, Any]:
    async with Simulator(ScenarioSource(FLAT)) as sim:
        while len(sim.board.symbols) < 2:
            await asyncio.sleep(0.02)
        return await _collect(sim.base_url(), sim)


@pytest.fixture(scope="module")
def simulated() -> dict[str, Any]:
    return asyncio.run(_run_simulator())


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    shared_data(REST)
    shared_data(POSITIONS)
    return _real_answers(SHARED_DATA)


def _split(field: str) -> tuple[str, str]:
    """`BINANCE_ORDER.price` -> (`BINANCE_ORDER`, `.price`); `X[].symbol` -> (`X`, `[].symbol`)."""
    name = re.match(r"[A-Z0-9_]+", field)
    assert name is not None
    return name.group(), field[name.end() :]


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    value = document
    for part in re.findall(r"[^.\[\]]+|\[\]", path):
        if part == "[]":
            if not isinstance(value, list) or not value:
                return False, None
            value = value[0]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def _kind(value: Any) -> str:
    if isinstance(value, str):
        if value == "":
            return "empty string"
        if re.fullmatch(r"-?\d+", value):
            return "integer"  # ccxt's recorder kept some integers as strings
        return "decimal string" if re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", value) else "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    return {float: "number", dict: "object", list: "list", type(None): "null"}[type(value)]


def _compatible(real: Any, simulated: Any) -> bool:
    real_kind, sim_kind = _kind(real), _kind(simulated)
    if real_kind == "integer":  # "0" or 0 on the wire: the recorder's strings are not evidence
        return sim_kind == "integer" or (isinstance(real, str) and sim_kind == "decimal string")
    if real_kind == "decimal string":  # prices and sizes always travel as strings
        return isinstance(simulated, str) and sim_kind in ("decimal string", "integer")
    if real_kind == "string":
        return sim_kind in ("string", "decimal string", "integer") and isinstance(simulated, str)
    return real_kind == sim_kind


@pytest.mark.parametrize("field", _cases())
def test_the_simulator_sends_the_field_as_the_exchange_does(
    field: str, real: dict[str, Any], simulated: dict[str, Any]
) -> None:
    name, path = _split(field)
    _, real_value = _lookup(real[name], path)
    present, sim_value = _lookup(simulated[name], path)
    assert present, f"{field}: the exchange sends it ({real_value!r}), the simulator does not"
    assert _compatible(real_value, sim_value), (
        f"{field}: the exchange sends {_kind(real_value)} {real_value!r}, "
        f"the simulator {_kind(sim_value)} {sim_value!r}"
    )


def test_the_simulator_sends_no_field_the_exchange_does_not(
    real: dict[str, Any], simulated: dict[str, Any]
) -> None:
    extra = sorted(
        path
        for name, answer in simulated.items()
        for path, _ in _fields(answer, name)
        if not _lookup(real[name], _split(path)[1])[0] and path != name
    )
    assert extra == []
