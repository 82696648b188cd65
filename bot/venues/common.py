"""Helpers shared by the pure parsers."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson

from bot.core import bounds
from bot.core.market import MS, FrameError, MarketEvent
from bot.errors import InputError


class FrameParser(Protocol):
    """Turns one received text frame into events. Pure: no I/O, no clock, no logging.

    `ignored` counts frames that are valid but carry nothing for us (acks, pongs, channels we do
    not use), by kind, so the shell can log each new kind once.
    """

    venue: str
    ignored: Counter[str]

    def parse(self, text: str, ts_recv: int) -> list[MarketEvent]: ...


def load_object(text: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError("invalid_json", "not valid JSON") from None
    if not isinstance(message, dict):
        raise FrameError("not_an_object", f"expected a JSON object, got {type(message).__name__}")
    return message


def dec(raw: object) -> Decimal:
    """A number from a frame, within the bounds every outside number is held to
    (bot/core/bounds.py): finite, |x| ≤ 1e15, at most 18 places and 20 digits."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise FrameError("bad_number", f"expected a decimal string, got {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FrameError("bad_number", f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise FrameError("bad_number", f"{raw!r} is not finite")
    try:
        return bounds.amount("number", value)
    except InputError as exc:
        raise FrameError("bad_number", str(exc)) from None


def price(raw: object) -> Decimal:
    """A mark, trade or last price: a number, and positive (a price of 0 divides by zero)."""
    value = dec(raw)
    if value <= 0 or value > bounds.MAX_PRICE:
        raise FrameError("bad_price", f"price {raw!r} is outside (0, {bounds.MAX_PRICE:,f}]")
    return value


def dec_or_none(raw: object) -> Decimal | None:
    return None if raw is None or raw == "" else dec(raw)


def ms_to_ns(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise FrameError("bad_timestamp", f"expected milliseconds, got {raw!r}")
    try:
        return int(raw) * MS
    except ValueError:
        raise FrameError("bad_timestamp", f"{raw!r} is not milliseconds") from None
