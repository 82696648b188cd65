"""OKX parser: real trades and tickers, documented mark-price and funding-rate shapes."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from bot.core.market import FrameError, FundingRate, MarkPrice, Trade
from bot.venues.okx.parse import OkxParser
from tests.conftest import shared_data


def test_recorded_frames_parse() -> None:
    parser = OkxParser({"UNI-USD-SWAP": Decimal(10)})
    seen: Counter[str] = Counter()
    for line in shared_data("cryptofeed/OKX.jsonl").open():
        record = json.loads(line)
        if record.get("t") != "recv":
            continue
        for event in parser.parse(record["data"], 0):
            seen[type(event).__name__] += 1
            if isinstance(event, Trade) and event.symbol == "UNI-USD-SWAP":
                assert event.qty is not None  # contracts × contract value
    assert seen == {"Trade": 74, "LastPrice": 28, "BookTop": 28}
    assert parser.ignored["channel:books"] == 290


def test_mark_price_and_funding_rate() -> None:
    parser = OkxParser()
    [mark] = parser.parse(
        '{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{'
        '"instId":"BTC-USDT-SWAP","instType":"SWAP","markPx":"42310.6",'
        '"ts":"1630049139746"}]}',
        5,
    )
    assert mark == MarkPrice(
        "okx", "BTC-USDT-SWAP", Decimal("42310.6"), None, None, None, 1630049139746 * 10**6, 5
    )
    [rate] = parser.parse(
        '{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{'
        '"fundingRate":"0.0001","fundingTime":"1700000000000","instId":'
        '"BTC-USDT-SWAP","instType":"SWAP","ts":"1699999000000"}]}',
        0,
    )
    assert isinstance(rate, FundingRate)
    assert rate.next_funding_time == 1700000000000 * 10**6


def test_pong_subscribe_and_error() -> None:
    parser = OkxParser()
    assert parser.parse("pong", 0) == []
    assert parser.parse('{"event":"subscribe","arg":{"channel":"trades"}}', 0) == []
    with pytest.raises(FrameError, match="60012"):
        parser.parse('{"event":"error","code":"60012","msg":"Invalid request"}', 0)
    with pytest.raises(FrameError) as error:
        parser.parse('{"event":"error","code":"60014","msg":"Requests too frequent."}', 0)
    assert error.value.kind == "rate_limited"
