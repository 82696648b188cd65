"""The Binance fast path changes speed only: on every real frame, and on frames with fields
mistyped at random, it gives the general parser's events or steps aside."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.market import FrameError
from bot.session.io import SessionReader
from bot.venues.binance.parse import BinanceParser
from tests.conftest import ROOT

SESSION = ROOT / "bot/data/sessions/binance-btcusdt-20230404.jsonl.gz"
TEMPLATES = {
    "bookTicker": {"e": "bookTicker", "u": 1, "s": "BTCUSDT", "b": "28150.1", "B": "1.5",
                   "a": "28150.2", "A": "0.3", "T": 1680652801000, "E": 1680652801001},
    "trade": {"e": "trade", "E": 1680652801000, "T": 1680652800999, "s": "BTCUSDT", "t": 77,
              "p": "28150.1", "q": "0.010", "X": "MARKET", "m": True},
    "markPriceUpdate": {"e": "markPriceUpdate", "E": 1680652801000, "s": "BTCUSDT",
                        "p": "28155.2", "P": "28141.4", "i": "28165.1", "r": "0.0000276",
                        "T": 1680681600000},
    "depthUpdate": {"e": "depthUpdate", "E": 1680652801000, "T": 1680652800999,
                    "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0, "b": [["28150.1", "1.5"]],
                    "a": [["28150.2", "0.3"]]},
}  # fmt: skip
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "NaN", "inf", "-Infinity", "1e5", "abc", "1_000", " 7 ", "0", "-0.0"]),
    st.text(max_size=6),
)


class _TookGeneral(Exception):
    pass


class _FastOnly(BinanceParser):
    """`parse` as the daemon runs it, stopped where it would hand the frame to `general`."""

    def general(self, text: str, ts_recv: int) -> list:  # noqa: ARG002 — the parser's signature
        raise _TookGeneral


def _fast(text: str, ts_recv: int) -> list | None:
    """The events of `parse`'s fast path for the frame, or None when it steps aside."""
    try:
        return _FastOnly().parse(text, ts_recv)
    except _TookGeneral:
        return None


def general(text: str) -> list | FrameError:
    try:
        return BinanceParser().general(text, 5)
    except FrameError as error:
        return error


def test_every_recorded_frame_parses_the_same_way() -> None:
    fast_taken = events = 0
    for record in SessionReader(SESSION).records():
        if record.get("t") != "recv" or "data" not in record:
            continue
        fast = _fast(record["data"], 5)
        if fast is not None:
            fast_taken += 1
            events += len(fast)
            assert fast == general(record["data"])
    assert events == 57_654  # every frame that carries an event takes the fast path
    assert fast_taken == 73_764  # and so do the depth updates, which carry none we use


@given(
    kind=st.sampled_from(sorted(TEMPLATES)),
    changes=st.dictionaries(st.sampled_from(list("sbBaAETtpqXmirPe")), VALUES, max_size=3),
    removed=st.lists(st.sampled_from(list("sbBaAETtpqXmirPe")), max_size=2),
)
@settings(max_examples=400, deadline=None)
def test_mistyped_frames_are_parsed_the_same_way(kind: str, changes: dict, removed: list) -> None:
    data = {**TEMPLATES[kind], **changes}
    for key in removed:
        data.pop(key, None)
    text = orjson.dumps({"stream": f"btcusdt@{kind}", "data": data}).decode()
    expected = general(text)
    fast = _fast(text, 5)
    if isinstance(expected, FrameError):
        assert fast is None  # the error is the general path's to report
    elif fast is not None:
        assert fast == expected
