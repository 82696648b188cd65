"""Bybit parser: merged tickers against the real recording, and the documented shapes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.core.market import BookTop, FrameError, LastPrice, MarketLiquidation, MarkPrice, Trade
from bot.core.values import OrderSide
from bot.venues.bybit.parse import BybitParser
from tests.conftest import shared_data


def linear_frames():
    for line in shared_data("cryptofeed/BYBIT.jsonl").open():
        record = json.loads(line)
        if record.get("t") == "recv" and record["conn"] == "BYBIT.ws.2":
            yield record["data"]


def test_merged_mark_and_last_after_every_btc_delta() -> None:
    parser = BybitParser()
    latest: dict[str, str] = {}
    deltas = marks = lasts = 0
    for text in linear_frames():
        message = json.loads(text)
        events = parser.parse(text, 0)
        if message.get("topic") != "tickers.BTCUSDT":
            continue
        latest.update(message["data"])
        merged = parser.ticker("BTCUSDT")
        assert merged["markPrice"] == latest["markPrice"]
        assert merged["lastPrice"] == latest["lastPrice"]
        for event in events:
            if isinstance(event, MarkPrice):
                marks += 1
                assert event.mark_price == Decimal(latest["markPrice"])
                assert event.index_price == Decimal(latest["indexPrice"])
            if isinstance(event, LastPrice):
                lasts += 1
                assert event.price == Decimal(latest["lastPrice"])
        deltas += message["type"] == "delta"
    # SOURCES.md: of the 185 BTCUSDT ticker messages (1 snapshot + 184 deltas), markPrice is
    # present in 42 and lastPrice in 13: one event each, never one from an absent field.
    assert (deltas, marks, lasts) == (184, 42, 13)


def test_public_trades_from_the_recording() -> None:
    parser = BybitParser()
    trades = [e for text in linear_frames() for e in parser.parse(text, 0) if isinstance(e, Trade)]
    assert len(trades) == 327
    first = trades[0]
    assert first.taker_side in (OrderSide.BUY, OrderSide.SELL)
    assert first.qty is not None
    assert first.qty > 0


def test_delta_before_snapshot_is_refused() -> None:
    delta = (
        '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT",'
        '"markPrice":"1"},"cs":1,"ts":1}'
    )
    with pytest.raises(FrameError) as error:
        BybitParser().parse(delta, 0)
    assert error.value.kind == "delta_before_snapshot"


def test_orderbook_top_snapshot_and_delta() -> None:
    parser = BybitParser()
    snap = (
        '{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":'
        '"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":1,"seq":1},'
        '"cts":1}'
    )
    [top] = parser.parse(snap, 0)
    assert top == BookTop(
        "bybit",
        "BTCUSDT",
        Decimal("16493.50"),
        Decimal("0.006"),
        Decimal("16611.00"),
        Decimal("0.029"),
        1672304484978 * 10**6,
        0,
    )
    delta = (
        '{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1672304484979,"data":{"s":'
        '"BTCUSDT","b":[["16493.50","0"]],"a":[["16610.00","1"]],"u":2,"seq":2},"cts":2}'
    )
    [top] = parser.parse(delta, 0)
    assert (top.bid_price, top.ask_price) == (None, Decimal("16610.00"))


def test_all_liquidation_documented_shape() -> None:
    frame = (
        '{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":'
        '[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}'
    )
    [event] = BybitParser().parse(frame, 0)
    # "Sell" is the liquidated position's side: a short was closed by a buy order.
    assert event == MarketLiquidation(
        "bybit",
        "ROSEUSDT",
        OrderSide.BUY,
        Decimal("0.04499"),
        Decimal(20000),
        1739502302929 * 10**6,
        0,
    )


def test_rejected_subscription_and_acks() -> None:
    parser = BybitParser()
    ack = '{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"subscribe"}'
    assert parser.parse(ack, 0) == []
    with pytest.raises(FrameError, match="error:handler not found"):
        parser.parse('{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}', 0)
    with pytest.raises(FrameError) as error:
        parser.parse('{"success":false,"ret_msg":"Too many requests","op":"subscribe"}', 0)
    assert error.value.kind == "rate_limited"
