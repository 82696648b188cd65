"""Frames in the venues' wire formats, built from simulated prices (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from bot.core.values import fmt


def _dumps(document: dict[str, Any]) -> str:
    return orjson.dumps(document).decode()


def binance_mark(
    symbol: str,
    mark: Decimal,
    index: Decimal,
    funding_rate: Decimal,
    next_funding_ms: int,
    ts_ms: int,
) -> tuple[str, str]:
    stream = f"{symbol.lower()}@markPrice@1s"
    return stream, _dumps(
        {
            "stream": stream,
            "data": {
                "e": "markPriceUpdate",
                "E": ts_ms,
                "s": symbol,
                "p": fmt(mark),
                "P": fmt(mark),
                "i": fmt(index),
                "r": fmt(funding_rate),
                "T": next_funding_ms,
            },
        }
    )


def binance_trade(
    symbol: str, price: Decimal, qty: Decimal, trade_id: int, buyer_is_maker: bool, ts_ms: int
) -> tuple[str, str]:
    stream = f"{symbol.lower()}@trade"
    return stream, _dumps(
        {
            "stream": stream,
            "data": {
                "e": "trade",
                "E": ts_ms,
                "T": ts_ms,
                "s": symbol,
                "t": trade_id,
                "p": fmt(price),
                "q": fmt(qty),
                "X": "MARKET",
                "m": buyer_is_maker,
            },
        }
    )


def binance_book(
    symbol: str, bid: Decimal, ask: Decimal, qty: Decimal, update_id: int, ts_ms: int
) -> tuple[str, str]:
    stream = f"{symbol.lower()}@bookTicker"
    return stream, _dumps(
        {
            "stream": stream,
            "data": {
                "e": "bookTicker",
                "u": update_id,
                "s": symbol,
                "b": fmt(bid),
                "B": fmt(qty),
                "a": fmt(ask),
                "A": fmt(qty),
                "T": ts_ms,
                "E": ts_ms,
            },
        }
    )


def bybit_ticker(
    symbol: str, fields: dict[str, str], ts_ms: int, snapshot: bool, sequence: int
) -> tuple[str, str]:
    topic = f"tickers.{symbol}"
    return topic, _dumps(
        {
            "topic": topic,
            "type": "snapshot" if snapshot else "delta",
            "data": {"symbol": symbol, **fields},
            "cs": sequence,
            "ts": ts_ms,
        }
    )


def bybit_trade(
    symbol: str,
    price: Decimal,
    qty: Decimal,
    taker_buys: bool,
    trade_id: str,
    ts_ms: int,
    sequence: int,
) -> tuple[str, str]:
    topic = f"publicTrade.{symbol}"
    return topic, _dumps(
        {
            "topic": topic,
            "type": "snapshot",
            "ts": ts_ms,
            "data": [
                {
                    "T": ts_ms,
                    "s": symbol,
                    "S": "Buy" if taker_buys else "Sell",
                    "v": fmt(qty),
                    "p": fmt(price),
                    "L": "ZeroPlusTick",
                    "i": trade_id,
                    "BT": False,
                    "seq": sequence,
                }
            ],
        }
    )


def bybit_book(
    symbol: str, bid: Decimal, ask: Decimal, qty: Decimal, update_id: int, ts_ms: int
) -> tuple[str, str]:
    topic = f"orderbook.1.{symbol}"
    return topic, _dumps(
        {
            "topic": topic,
            "type": "snapshot",
            "ts": ts_ms,
            "data": {
                "s": symbol,
                "b": [[fmt(bid), fmt(qty)]],
                "a": [[fmt(ask), fmt(qty)]],
                "u": update_id,
                "seq": update_id,
            },
            "cts": ts_ms,
        }
    )


def okx_inst_id(symbol: str) -> str:
    """A scenario's symbol as an OKX USDT swap: "ADAUSDT" → "ADA-USDT-SWAP"; an OKX id as is."""
    if "-" in symbol:
        return symbol
    return f"{symbol.removesuffix('USDT')}-USDT-SWAP"


def _okx_push(channel: str, inst_id: str, item: dict[str, Any]) -> tuple[str, str]:
    """OKX v5 public push: `{"arg": {channel, instId}, "data": [item]}` (shared/data/SURVEY.md)."""
    topic = f"{channel}:{inst_id}"
    return topic, _dumps({"arg": {"channel": channel, "instId": inst_id}, "data": [item]})


def okx_mark(inst_id: str, mark: Decimal, ts_ms: int) -> tuple[str, str]:
    return _okx_push(
        "mark-price",
        inst_id,
        {"instType": "SWAP", "instId": inst_id, "markPx": fmt(mark), "ts": str(ts_ms)},
    )


def okx_trade(
    inst_id: str, price: Decimal, contracts: Decimal, trade_id: int, side: str, ts_ms: int
) -> tuple[str, str]:
    item = {
        "instId": inst_id,
        "tradeId": str(trade_id),
        "px": fmt(price),
        "sz": fmt(contracts),
        "side": side,
        "ts": str(ts_ms),
    }
    return _okx_push("trades", inst_id, item)
