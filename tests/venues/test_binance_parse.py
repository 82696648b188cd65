"""Binance parser against real recorded frames and the documented shapes absent from them."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from decimal import Decimal

import pytest

from bot.core.market import (
    BookTop,
    FrameError,
    MarketLiquidation,
    MarkPrice,
    NonMarketTrade,
    Trade,
)
from bot.core.values import OrderSide
from bot.venues.binance.parse import BinanceParser
from tests.conftest import shared_data


def hftbacktest_frames():
    for name in ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"):
        with gzip.open(shared_data(f"hftbacktest/{name}"), "rt") as lines:
            for line in lines:
                stamp, payload = line.rstrip("\n").split(" ", 1)
                yield int(stamp) * 1000, payload


def test_every_recorded_frame_parses() -> None:
    parser = BinanceParser()
    kinds: Counter[str] = Counter()
    for ts, payload in hftbacktest_frames():
        if payload.startswith('{"stream"'):
            kinds.update(type(e).__name__ for e in parser.parse(payload, ts))
    assert kinds == {"BookTop": 44205, "Trade": 12934, "MarkPrice": 514, "NonMarketTrade": 1}
    assert parser.ignored == {"event:depthUpdate": 16110}


def test_mark_price_frame() -> None:
    frame = (
        '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1680652801000,'
        '"s":"BTCUSDT","p":"28155.20000000","P":"28141.47001461","i":"28165.15571429",'
        '"r":"0.00002760","T":1680681600000}}'
    )
    [mark] = BinanceParser().parse(frame, 7)
    assert mark == MarkPrice(
        "binance",
        "BTCUSDT",
        Decimal("28155.20000000"),
        Decimal("28165.15571429"),
        Decimal("0.00002760"),
        1680681600000 * 10**6,
        1680652801000 * 10**6,
        7,
    )


def test_new_fields_are_ignored() -> None:
    # 2025+ frames add "ap" and "st" to markPriceUpdate (SURVEY.md §2.5).
    frame = (
        '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT",'
        '"p":"1.5","P":"1","i":"1.4","r":"0","T":2,"ap":"1.45","st":1}}'
    )
    [mark] = BinanceParser().parse(frame, 0)
    assert mark.mark_price == Decimal("1.5")


def test_insurance_fund_print_is_not_a_market_trade() -> None:
    frame = (
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1680652874406,"T":1680652874400,'
        '"s":"BTCUSDT","t":3535191080,"p":"28722.50","q":"0.001","X":"INSURANCE_FUND",'
        '"m":true}}'
    )
    [event] = BinanceParser().parse(frame, 0)
    assert isinstance(event, NonMarketTrade)
    assert (event.kind, event.price) == ("INSURANCE_FUND", Decimal("28722.50"))


def test_agg_trade_and_book_ticker_from_cryptofeed() -> None:
    parser = BinanceParser()
    seen: Counter[str] = Counter()
    for line in shared_data("cryptofeed/BINANCE_FUTURES.jsonl").open():
        record = json.loads(line)
        if record.get("t") == "recv":
            for event in parser.parse(record["data"], 0):
                seen[type(event).__name__] += 1
                if isinstance(event, Trade):
                    assert event.taker_side in (OrderSide.BUY, OrderSide.SELL)
                if isinstance(event, BookTop):
                    assert event.bid_price is not None
                    assert event.ask_price is not None
                    assert event.bid_price < event.ask_price
    assert seen == {"Trade": 91, "BookTop": 613}


def test_force_order_documented_shape() -> None:
    frame = (
        '{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,'
        '"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910",'
        '"ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}}'
    )
    [event] = BinanceParser().parse(frame, 0)
    assert event == MarketLiquidation(
        "binance",
        "BTCUSDT",
        OrderSide.SELL,
        Decimal(9910),
        Decimal("0.014"),
        1568014460893 * 10**6,
        0,
    )


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ('{"stream":"btcusdt@trade","data":{"e":"trade"', "invalid_json"),
        ("[1,2]", "not_an_object"),
        ('{"stream":"x","data":5}', "bad_envelope"),
        ('{"stream":"x","data":{"e":"trade","s":"BTCUSDT"}}', "bad_trade"),
        ('{"stream":"x","data":{"e":"trade","s":"B","p":"abc","q":"1","E":1}}', "bad_number"),
        ('{"code":-1121,"msg":"Invalid symbol."}', "venue_error"),
        ('{"code":-1003,"msg":"Too many requests."}', "rate_limited"),
        ('{"error":{"code":2,"msg":"Too many requests"},"id":1}', "rate_limited"),
    ],
)
def test_malformed_frames_raise_their_kind(frame: str, kind: str) -> None:
    with pytest.raises(FrameError) as error:
        BinanceParser().parse(frame, 0)
    assert error.value.kind == kind


def test_subscription_reply_is_ignored() -> None:
    parser = BinanceParser()
    assert parser.parse('{"result":null,"id":1}', 0) == []
    assert parser.ignored == {"subscription_reply": 1}
