"""Scripted price paths: keyframes for mark and last, separately (docs/simulator.md).

    name = "crash"
    symbols = ["BTCUSDT"]
    tick_ms = 250
    [[mark]]
    at = 0        # seconds from the start
    price = "10000"
    [[mark]]
    at = 120
    price = "8500"
    [[last]]
    at = 0
    price = "10000"

Between keyframes the price moves linearly; after the last keyframe it holds. Prices are rounded
to `price_step`.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from bot.core.values import parse_decimal
from bot.errors import ConfigError

_KEYS = {"name", "symbols", "tick_ms", "price_step", "hold_s", "mark", "last", "description"}


@dataclass(frozen=True, slots=True)
class Keyframe:
    at_s: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class PricePath:
    keyframes: tuple[Keyframe, ...]

    def at(self, t_s: Decimal) -> Decimal:
        frames = self.keyframes
        times = [k.at_s for k in frames]
        index = bisect_right(times, t_s)
        if index == 0:
            return frames[0].price
        if index == len(frames):
            return frames[-1].price
        before, after = frames[index - 1], frames[index]
        share = (t_s - before.at_s) / (after.at_s - before.at_s)
        return before.price + (after.price - before.price) * share


@dataclass(frozen=True, slots=True)
class Tick:
    t_s: Decimal
    symbol: str
    mark: Decimal
    last: Decimal


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    symbols: tuple[str, ...]
    tick_ms: int
    price_step: Decimal
    mark: PricePath
    last: PricePath
    hold_s: Decimal = Decimal(0)

    @property
    def duration_s(self) -> Decimal:
        end = max(self.mark.keyframes[-1].at_s, self.last.keyframes[-1].at_s)
        return end + self.hold_s

    def rebased(self, first_mark: Decimal) -> Scenario:
        """The same path scaled so that it starts at `first_mark`: a crash scripted from
        10,000 becomes the same fall in percent from wherever the market is."""
        factor = first_mark / self.mark.keyframes[0].price

        def scaled(path: PricePath) -> PricePath:
            return PricePath(tuple(Keyframe(k.at_s, k.price * factor) for k in path.keyframes))

        return replace(self, mark=scaled(self.mark), last=scaled(self.last))

    def ticks(self) -> Iterator[Tick]:
        step = Decimal(self.tick_ms) / 1000
        t = Decimal(0)
        while t <= self.duration_s:
            mark = self.mark.at(t).quantize(self.price_step, ROUND_HALF_EVEN)
            last = self.last.at(t).quantize(self.price_step, ROUND_HALF_EVEN)
            for symbol in self.symbols:
                yield Tick(t, symbol, mark, last)
            t += step


def _path(raw: object, name: str, where: str) -> PricePath:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: [[{name}]] needs at least one keyframe with 'at' and 'price'")
    frames: list[Keyframe] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"at", "price"}:
            raise ConfigError(f"{where}: {name}[{index}] needs exactly 'at' and 'price'")
        try:
            at = parse_decimal(item["at"], f"{name}[{index}].at")
            price = parse_decimal(item["price"], f"{name}[{index}].price")
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if price <= 0 or at < 0:
            raise ConfigError(f"{where}: {name}[{index}] needs at >= 0 and price > 0")
        if frames and at <= frames[-1].at_s:
            raise ConfigError(f"{where}: {name} keyframes must have increasing 'at'")
        frames.append(Keyframe(at, price))
    return PricePath(tuple(frames))


def scenario_from_dict(raw: dict[str, Any], where: str) -> Scenario:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected {sorted(_KEYS)}")
    symbols = raw.get("symbols", ["BTCUSDT"])
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ConfigError(f"{where}: symbols must be a list of symbol names")
    tick_ms = raw.get("tick_ms", 250)
    if not isinstance(tick_ms, int) or tick_ms <= 0:
        raise ConfigError(f"{where}: tick_ms must be a positive whole number of milliseconds")
    return Scenario(
        name=str(raw.get("name", Path(where).stem)),
        symbols=tuple(s.upper() for s in symbols),
        tick_ms=tick_ms,
        price_step=parse_decimal(str(raw.get("price_step", "0.1")), "price_step"),
        mark=_path(raw.get("mark"), "mark", where),
        last=_path(raw.get("last"), "last", where),
        hold_s=parse_decimal(str(raw.get("hold_s", "0")), "hold_s"),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return scenario_from_dict(raw, str(path))
