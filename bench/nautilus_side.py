"""The nautilus_trader half of `make bench-compare`: run in nautilus_trader's own environment
(.tools/nautilus), with nothing of marginbot imported.

Reads the trade ticks `bench.compare` wrote (one per line: ns timestamp, price, quantity,
buyer-is-maker, trade id), runs nautilus_trader's BacktestEngine over them with a strategy that
opens a long at the first tick with a stop-loss and a take-profit resting far away (an OUO
bracket, as `EMACrossBracket` in nautilus_trader's examples builds it), and prints one JSON line:
ticks, seconds of `engine.run()`, ticks per second, peak RSS, version.

    .tools/nautilus/bin/python bench/nautilus_side.py TICKS_FILE
"""

from __future__ import annotations

import json
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

import nautilus_trader
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, TradeId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy


class BracketConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    quantity: str = "0.3"
    distance: str = "0.15"  # stop-loss and take-profit 15 % away: they rest for the whole run


class Bracket(Strategy):
    def __init__(self, config: BracketConfig) -> None:
        super().__init__(config)
        self.ticks = 0
        self.opened = False

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.subscribe_trade_ticks(self.config.instrument_id)

    def on_trade_tick(self, tick: TradeTick) -> None:
        self.ticks += 1
        if self.opened:
            return
        self.opened = True
        price = tick.price.as_decimal()
        distance = Decimal(self.config.distance)
        orders = self.order_factory.bracket(
            instrument_id=self.config.instrument_id,
            order_side=OrderSide.BUY,
            quantity=self.instrument.make_qty(Decimal(self.config.quantity)),
            sl_trigger_price=self.instrument.make_price(price * (1 - distance)),
            tp_price=self.instrument.make_price(price * (1 + distance)),
        )
        self.submit_order_list(orders)


def load_ticks(path: str, instrument: Instrument) -> list[TradeTick]:
    # Binance prints "28145.10"; the instrument's precision is 0.1, which nautilus enforces.
    price_step = Decimal(1).scaleb(-instrument.price_precision)
    size_step = Decimal(1).scaleb(-instrument.size_precision)
    ticks = []
    with Path(path).open() as lines:
        for line in lines:
            ts, price, qty, maker, trade_id = line.split()
            side = AggressorSide.SELLER if maker == "1" else AggressorSide.BUYER
            ticks.append(
                TradeTick(
                    instrument.id,
                    Price.from_str(str(Decimal(price).quantize(price_step))),
                    Quantity.from_str(str(Decimal(qty).quantize(size_step))),
                    side,
                    TradeId(trade_id),
                    int(ts),
                    int(ts),
                )
            )
    return ticks


def main() -> None:
    instrument = TestInstrumentProvider.btcusdt_perp_binance()
    ticks = load_ticks(sys.argv[1], instrument)
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=Venue("BINANCE"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=None,
        starting_balances=[Money(1_000_000, USDT)],
        trade_execution=True,
    )
    engine.add_instrument(instrument)
    engine.add_data(ticks)
    strategy = Bracket(BracketConfig(instrument_id=instrument.id))
    engine.add_strategy(strategy)
    started = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - started
    open_orders = len(engine.cache.orders_open())
    positions = len(engine.cache.positions_open())
    engine.dispose()
    print(
        json.dumps(
            {
                "ticks": len(ticks),
                "ticks_seen": strategy.ticks,
                "seconds": seconds,
                "ticks_per_s": len(ticks) / seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "open_orders": open_orders,
                "open_positions": positions,
                "version": nautilus_trader.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
