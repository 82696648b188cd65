"""Scale: 100 symbols, 1,000 open positions (500 cross across five accounts, 500 isolated
across five more), 10,000 resting stop triggers, and a synthetic stream of mark and last
prices through the engine and the alert rules. Events per second and peak RSS.

The stream is 100,000 events, a thousand per symbol: the first ticks of each symbol are
worked out in full (latches made, quiet bands computed), the rest mostly fall inside the
bands. The rate covers the whole stream, start included; the sweep shows how it falls when
the prices move faster and leave the bands more often.

    python -m bench.scale [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from bench.common import figure, peak_rss_mb, verdict
from bot.core.commands import PlaceOrder
from bot.core.engine import Engine
from bot.core.events import Fill
from bot.core.instruments import Instrument, TierTable
from bot.core.kernel import Kernel
from bot.core.ledger.account import Account, FeeSchedule
from bot.core.market import MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType, PriceSource
from bot.core.values import MarginMode, OrderSide, Venue

TARGET_RATE = 200_000
TARGET_RSS_MB = 150
SYMBOLS = [f"S{n:03d}USDT" for n in range(100)]
PRICE = Decimal(100)
STREAM = 100_000


def instrument(symbol: str) -> Instrument:
    return Instrument(
        Venue.BINANCE, symbol, symbol[:-4], "USDT", "USDT", TierTable.single(Decimal("0.005")),
        Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(5),
    )  # fmt: skip


def build(accounts_per_mode: int = 5, held: list[str] = SYMBOLS) -> Engine:
    """Accounts (half cross, half isolated) each with a position and ten stops on every symbol
    of `held`."""
    instruments = {s: instrument(s) for s in SYMBOLS}
    accounts = {}
    for mode in (MarginMode.CROSS, MarginMode.ISOLATED):
        for n in range(accounts_per_mode):
            account = Account(
                Venue.BINANCE, instruments, Decimal(1_000_000),
                fees=FeeSchedule(Decimal(0), Decimal(0)),
                default_leverage=Decimal(10), default_margin_mode=mode,
            )  # fmt: skip
            accounts[f"{mode.value}-{n}"] = account
    engine = Engine(accounts)
    for symbol in SYMBOLS:
        engine.step(MarkPrice("binance", symbol, PRICE, None, None, None, 0, 0))
    for name, account in accounts.items():  # a position on every symbol: 1,000 in all
        for symbol in held:
            account.apply_fill(Fill(symbol, OrderSide.BUY, Decimal(10), PRICE))
            for k in range(10):  # 10,000 triggers: reduce-only stops far below
                request = OrderRequest(
                    symbol, OrderSide.SELL, OrderType.STOP_MARKET, Decimal(1),
                    trigger_price=Decimal(60) - k, trigger_source=PriceSource.MARK,
                    reduce_only=True,
                )  # fmt: skip
                engine.step(PlaceOrder(name, request, 0))
    return engine


def stream(
    count: int, seed: int = 1, symbols: list[str] = SYMBOLS, cents: int = 3
) -> list[MarkPrice | Trade]:
    """A trade then a mark on each symbol in turn, the price walking by up to `cents` a step
    (3: about 0.02 % a step, as a liquid perpetual between trades)."""
    rng = random.Random(seed)  # noqa: S311 — a price walk, not cryptography
    prices = dict.fromkeys(symbols, PRICE)
    events: list[MarkPrice | Trade] = []
    for n in range(count):
        symbol = symbols[(n // 2) % len(symbols)]
        prices[symbol] += Decimal(rng.randint(-cents, cents)) / 100
        ts = 1_000_000_000 + n * 1_000_000
        if n % 2:
            events.append(MarkPrice("binance", symbol, prices[symbol], None, None, None, ts, ts))
        else:
            price = prices[symbol]
            events.append(Trade("binance", symbol, price, Decimal(1), None, str(n), ts, ts))
    return events


def rate_of(engine: Engine, events: list[MarkPrice | Trade]) -> float:
    step = Kernel(engine).step
    started = time.perf_counter()
    for number, event in enumerate(events):
        step(event, number)
    return len(events) / (time.perf_counter() - started)


def sweep() -> None:
    """How the cost grows with the accounts holding each ticked symbol, the symbols each
    account holds, and how fast prices move (docs/performance.md)."""
    for accounts, held, cents in (
        (1, 100, 3), (2, 100, 3), (5, 100, 3), (5, 10, 3), (5, 30, 3),
        (5, 100, 30), (5, 100, 100),
    ):  # fmt: skip
        engine = build(accounts, SYMBOLS[:held])
        positions = sum(len(list(d.account.positions())) for d in engine.desks.values())
        rate = rate_of(engine, stream(STREAM, symbols=SYMBOLS[:held], cents=cents))
        figure("scale_sweep", rate, "events/s", positions=positions, accounts=2 * accounts,
               symbols_per_account=held, triggers=10 * positions,
               step_pct=float(Decimal(cents) / PRICE), events=STREAM)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke run)")
    parser.add_argument("--sweep", action="store_true", help="events/s by number of positions")
    args = parser.parse_args()
    if args.sweep:
        sweep()
        return
    quick = args.quick
    engine = build(1 if quick else 5)
    events = stream(200 if quick else STREAM)
    positions = sum(len(list(d.account.positions())) for d in engine.desks.values())
    triggers = sum(len(d.orders) for d in engine.desks.values())
    rate = rate_of(engine, events)
    rss = peak_rss_mb()
    common = {"symbols": len(SYMBOLS), "positions": positions, "triggers": triggers}
    figure("scale_throughput", rate, "events/s", **common, events=len(events),
           target=TARGET_RATE, result=verdict(rate >= TARGET_RATE))  # fmt: skip
    figure("scale_peak_rss", rss, "MB", **common, target=TARGET_RSS_MB,
           result=verdict(rss <= TARGET_RSS_MB))  # fmt: skip


if __name__ == "__main__":
    main()
