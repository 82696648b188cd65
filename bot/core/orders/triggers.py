"""Price-ordered books, so a tick touches only the orders its price crosses.

`TriggerBook` holds the trigger orders of one symbol and one price source, in two lists sorted by
trigger price: those that fire when the price rises to their trigger and those that fire when it
falls to it. A tick finds the crossed range by bisection and takes only that slice: the cost of a
tick does not grow with the number of resting triggers it does not cross.

`LimitBook` holds resting limit orders of one symbol: a market trade printing through a limit
price (strictly beyond it, so no queue jumping) fills that order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from decimal import Decimal

Entry = tuple[Decimal, int, str]  # (price, sequence, order id)


def _price(entry: Entry) -> Decimal:
    return entry[0]


class TriggerBook:
    def __init__(self) -> None:
        self._rising: list[Entry] = []  # fire when price >= trigger
        self._falling: list[Entry] = []  # fire when price <= trigger
        self._where: dict[str, tuple[bool, Entry]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._where

    def add(self, order_id: str, trigger: Decimal, fires_on_rise: bool, sequence: int) -> None:
        entry = (trigger, sequence, order_id)
        insort(self._rising if fires_on_rise else self._falling, entry)
        self._where[order_id] = (fires_on_rise, entry)

    def remove(self, order_id: str) -> bool:
        found = self._where.pop(order_id, None)
        if found is None:
            return False
        rising, entry = found
        entries = self._rising if rising else self._falling
        del entries[bisect_left(entries, entry)]
        return True

    def quiet_band(self) -> tuple[Decimal | None, Decimal | None]:
        """The open interval of prices that reach no trigger: (highest falling, lowest rising)."""
        return (
            self._falling[-1][0] if self._falling else None,
            self._rising[0][0] if self._rising else None,
        )

    def crossed(self, price: Decimal) -> list[str]:
        """Remove and return every order the price reaches, in the order they were placed."""
        rising, falling = self._rising, self._falling
        if (not rising or price < rising[0][0]) and (not falling or price > falling[-1][0]):
            return []  # between the nearest triggers on either side: nearly every tick
        up = bisect_right(self._rising, price, key=_price)
        down = bisect_left(self._falling, price, key=_price)
        fired = self._rising[:up] + self._falling[down:]
        if not fired:
            return []
        del self._rising[:up]
        del self._falling[down:]
        for entry in fired:
            del self._where[entry[2]]
        return [entry[2] for entry in sorted(fired, key=lambda e: e[1])]


class LimitBook:
    def __init__(self) -> None:
        self._buys: list[Entry] = []  # sorted by −price: best (highest) first
        self._sells: list[Entry] = []  # sorted by price: best (lowest) first
        self._where: dict[str, tuple[bool, Entry]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def add(self, order_id: str, price: Decimal, buy: bool, sequence: int) -> None:
        entry = (-price if buy else price, sequence, order_id)
        insort(self._buys if buy else self._sells, entry)
        self._where[order_id] = (buy, entry)

    def remove(self, order_id: str) -> bool:
        found = self._where.pop(order_id, None)
        if found is None:
            return False
        buy, entry = found
        entries = self._buys if buy else self._sells
        del entries[bisect_left(entries, entry)]
        return True

    def quiet_band(self) -> tuple[Decimal | None, Decimal | None]:
        """The open interval of trade prices that fill nothing: (best buy, best sell)."""
        return (
            -self._buys[0][0] if self._buys else None,
            self._sells[0][0] if self._sells else None,
        )

    def traded_through(self, trade_price: Decimal) -> list[str]:
        """Remove and return the orders a trade at this price fills: buys above it, sells below."""
        buys = bisect_left(self._buys, -trade_price, key=_price)  # −limit < −trade ⇔ limit > trade
        sells = bisect_left(self._sells, trade_price, key=_price)  # limit < trade
        filled = self._buys[:buys] + self._sells[:sells]
        if not filled:
            return []
        del self._buys[:buys]
        del self._sells[:sells]
        for entry in filled:
            del self._where[entry[2]]
        return [entry[2] for entry in sorted(filled, key=lambda e: e[1])]
