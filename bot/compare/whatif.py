"""What if: the same position as isolated and as cross, over recorded or historical prices.

One pass over the session drives one kernel (bot/core/kernel.py, the daemon's step: fees,
funding, triggers and liquidation exactly as live) holding, for each leverage asked for, an
isolated and a cross account with the same wallet. At the entry (the session's first trade,
or the first at or after a time) each opens the same market order; from then on every market
event is a step of that kernel. Watched at every mark: each position's liquidation price and
its distance by the mark and by the last price; liquidations, alerts, and (for the main
leverage) a sampled series of prices, liquidation prices, equity and margin ratio for the
report. It stops at the exit time or the session's end.

Pure but for reading the session: no clock, no network; the same session and scenario give the
same result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from bot.alerts.payloads import iso
from bot.core import bounds
from bot.core.alerting.alert import Alert
from bot.core.commands import AdjustIsolatedMargin, PlaceOrder
from bot.core.engine import Engine
from bot.core.engine_events import CommandRefused, OrderRejected, PositionLiquidated
from bot.core.kernel import Kernel
from bot.core.ledger.account import Account
from bot.core.ledger.figures import account_figures
from bot.core.ledger.liquidation import liquidation_price
from bot.core.market import LastPrice, MarketEvent, MarkPrice, Trade
from bot.core.orders.model import OrderRequest, OrderType
from bot.core.values import ZERO, MarginMode, OrderSide, Side, Venue, fmt
from bot.display import money as _money
from bot.display import percent
from bot.errors import InputError
from bot.markets.snapshot import bundled_for

MODES = (MarginMode.ISOLATED, MarginMode.CROSS)
SAMPLE_NS = 1_000_000_000  # one report point per second of exchange time at most
MAX_POINTS = 5_000  # the report's points: a day is thinned to one every ~17 s
MAX_ALERTS = 100  # listed per mode (all are counted)


@dataclass(frozen=True)
class Scenario:
    """The position to compare, as `marginbot compare` takes it."""

    symbol: str
    side: Literal["long", "short"]
    qty: Decimal
    leverage: Decimal
    wallet: Decimal
    isolated_margin: Decimal | None = None  # default: the initial margin, notional / leverage
    entry_ns: int | None = None  # None: the session's first trade
    exit_ns: int | None = None  # None: the session's end
    venue: str = "binance"
    grid: tuple[Decimal, ...] = ()

    def leverages(self) -> list[Decimal]:
        """The main leverage, then the grid's, lowest first."""
        return list(dict.fromkeys([self.leverage, *sorted(self.grid)]))


class Finished(Exception):
    """The exit time has passed: nothing after it counts."""


@dataclass
class Closest:
    distance: Decimal | None = None
    ts_event: int = 0
    price: Decimal | None = None
    liquidation_price: Decimal | None = None

    def offer(self, distance: Decimal, ts: int, price: Decimal, liquidation: Decimal) -> None:
        if self.distance is None or distance < self.distance:
            self.distance, self.ts_event = distance, ts
            self.price, self.liquidation_price = price, liquidation

    def json(self) -> dict[str, Any] | None:
        if self.distance is None:
            return None
        assert self.price is not None
        assert self.liquidation_price is not None
        return {
            "distance": fmt(self.distance.quantize(Decimal("1e-8"))),
            "ts_event": self.ts_event,
            "time": iso(self.ts_event),
            "price": fmt(self.price),
            "liquidation_price": fmt(self.liquidation_price.quantize(Decimal("1e-8"))),
        }


@dataclass
class Watch:
    """One account of the comparison: what happened to its position."""

    name: str
    mode: MarginMode
    leverage: Decimal
    opened: bool = False
    refused: str | None = None
    initial_margin: Decimal = ZERO
    liquidated: PositionLiquidated | None = None
    liquidated_last: Decimal | None = None
    liquidation: Decimal | None = None  # the position's liquidation price at the last mark
    adverse_last: Decimal | None = None  # the worst last price since that mark
    by_mark: Closest = field(default_factory=Closest)
    by_last: Closest = field(default_factory=Closest)
    alerts: list[Alert] = field(default_factory=list)
    alert_counts: Counter[str] = field(default_factory=Counter)


def _distance(side: Side, price: Decimal, liquidation: Decimal) -> Decimal:
    """How far the price may still move against the position, as a fraction of the price."""
    room = price - liquidation if side is Side.LONG else liquidation - price
    return room / price


class WhatIf:
    def __init__(self, scenario: Scenario) -> None:
        # The bounds every number from outside meets (bot/core/bounds.py), then sense.
        bounds.quantity("--qty", scenario.qty)
        bounds.amount("--wallet", scenario.wallet)
        for leverage in scenario.leverages():
            bounds.leverage("--leverage", leverage)
        if scenario.isolated_margin is not None:
            bounds.amount("--isolated-margin", scenario.isolated_margin)
            if scenario.isolated_margin <= 0:
                raise InputError("compare: --isolated-margin must be positive")
        if scenario.wallet <= 0:
            raise InputError("compare: --wallet must be positive")
        self.scenario = scenario
        venue = Venue(scenario.venue)
        instruments = bundled_for(venue)
        if scenario.symbol not in instruments:
            raise InputError(
                f"compare: no bundled {venue} instrument {scenario.symbol}; bundled: "
                + ", ".join(sorted(instruments))
            )
        self.watches: dict[str, Watch] = {}
        accounts = {}
        for leverage in scenario.leverages():
            for mode in MODES:
                name = f"{mode.value}-{fmt(leverage)}x"
                self.watches[name] = Watch(name, mode, leverage)
                accounts[name] = Account(
                    venue,
                    instruments,
                    scenario.wallet,
                    default_leverage=leverage,
                    default_margin_mode=mode,
                )
        self.kernel = Kernel(Engine(accounts))
        self.side = Side.LONG if scenario.side == "long" else Side.SHORT
        self.entry: dict[str, Any] | None = None
        self.exit: dict[str, Any] | None = None
        self.inputs = 0
        self.series: list[list[Any]] = []
        self._next_sample = 0
        self.main = [f"{m.value}-{fmt(scenario.leverage)}x" for m in MODES]
        self._last_ts = 0

    # -- the pass --------------------------------------------------------------------------

    def on_event(self, event: MarketEvent) -> None:
        """One market event of the session, in order (`replay`'s sink)."""
        s = self.scenario
        ts = event.ts_event
        if s.exit_ns is not None and ts > s.exit_ns and self.entry is not None:
            raise Finished
        ours = event.venue == s.venue and event.symbol == s.symbol
        if self.entry is None and ours and isinstance(event, Trade | LastPrice):
            prices = self.kernel.prices(s.venue, s.symbol)
            if (s.entry_ns is None or ts >= s.entry_ns) and prices and prices.mark is not None:
                self.kernel.step(event, "entry-price")  # the price the order fills at
                self._enter(ts)
                self._last_ts = ts
                return
        self.inputs += 1
        done = self.kernel.step(event, self.inputs)
        self._last_ts = ts
        if self.entry is None:
            return
        if done.events or done.alerts:
            self._note(done.events, done.alerts)
        if not ours:
            return
        if isinstance(event, MarkPrice):
            self._on_mark(event)
        elif isinstance(event, Trade | LastPrice):
            self._on_last(event.price, ts)

    def _note(self, events: Sequence[object], alerts: Sequence[Alert]) -> None:
        """Liquidations and alerts, by account."""
        for happened in events:
            if isinstance(happened, PositionLiquidated) and happened.account in self.watches:
                liquidated = self.watches[happened.account]
                if liquidated.liquidated is None:
                    liquidated.liquidated = happened
                    liquidated.liquidated_last = happened.last_price
                    self._next_sample = 0  # the report shows the moment
        for alert in alerts:
            watch = self.watches.get(alert.account or "")
            if watch is not None:
                watch.alert_counts[alert.kind] += 1
                if len(watch.alerts) < MAX_ALERTS:
                    watch.alerts.append(alert)

    def _enter(self, ts: int) -> None:
        s = self.scenario
        order_side = OrderSide.BUY if self.side is Side.LONG else OrderSide.SELL
        prices = self.kernel.prices(s.venue, s.symbol)
        assert prices is not None
        self.entry = {
            "ts_event": ts,
            "time": iso(ts),
            "last_price": fmt(prices.last) if prices.last is not None else None,
            "mark_price": fmt(prices.mark) if prices.mark is not None else None,
        }
        for name, watch in self.watches.items():
            request = OrderRequest(s.symbol, order_side, OrderType.MARKET, s.qty)
            done = self.kernel.step(PlaceOrder(name, request, ts), f"entry.{name}")
            refused = [e for e in done.events if isinstance(e, OrderRejected)]
            position = self.kernel.position(name, s.symbol)
            if refused or position is None:
                watch.refused = refused[0].reason if refused else "the order did not fill"
                continue
            watch.opened = True
            if watch.mode is MarginMode.ISOLATED and s.isolated_margin is not None:
                change = s.isolated_margin - position.isolated_margin
                if change:
                    step = self.kernel.step(
                        AdjustIsolatedMargin(name, s.symbol, change, ts), f"margin.{name}"
                    )
                    for e in step.events:
                        if isinstance(e, CommandRefused):
                            watch.refused = f"the isolated margin: {e.reason}"
            position = self.kernel.position(name, s.symbol)
            if position is not None:
                watch.initial_margin = (
                    position.isolated_margin
                    if watch.mode is MarginMode.ISOLATED
                    else self.kernel.account(name).initial_margin(position)
                )
        mark = prices.mark
        if mark is not None:
            self._on_mark_price(mark, ts, prices.last)

    def _on_mark(self, event: MarkPrice) -> None:
        prices = self.kernel.prices(event.venue, event.symbol)
        self._on_mark_price(event.mark_price, event.ts_event, prices.last if prices else None)

    def _on_mark_price(self, mark: Decimal, ts: int, last: Decimal | None) -> None:
        symbol = self.scenario.symbol
        for name, watch in self.watches.items():
            if not watch.opened or watch.liquidated is not None:
                watch.liquidation = None
                continue
            account = self.kernel.account(name)
            position = account.position(symbol)
            if position is None:
                watch.liquidation = None
                continue
            liquidation = liquidation_price(account, position)
            watch.liquidation = liquidation
            if liquidation is None:
                continue
            watch.by_mark.offer(_distance(self.side, mark, liquidation), ts, mark, liquidation)
            watch.adverse_last = None
            if last is not None:
                self._offer_last(watch, last, ts)
        if ts >= self._next_sample:
            self._sample(ts, mark, last)
            self._next_sample = ts + SAMPLE_NS

    def _on_last(self, price: Decimal, ts: int) -> None:
        for watch in self.watches.values():
            if watch.liquidation is not None:
                self._offer_last(watch, price, ts)

    def _offer_last(self, watch: Watch, price: Decimal, ts: int) -> None:
        """Only a last price worse than any since the last mark can come closer."""
        worst = watch.adverse_last
        if worst is not None and (price >= worst if self.side is Side.LONG else price <= worst):
            return
        watch.adverse_last = price
        assert watch.liquidation is not None
        watch.by_last.offer(
            _distance(self.side, price, watch.liquidation), ts, price, watch.liquidation
        )

    def _thin(self) -> None:
        """At most MAX_POINTS, the liquidation moments and the last point kept."""
        rows = self.series
        if len(rows) <= MAX_POINTS:
            return
        keep = {w.liquidated.ts // 1_000_000_000 for w in self.watches.values() if w.liquidated}
        step = len(rows) / MAX_POINTS
        chosen = {int(n * step) for n in range(MAX_POINTS)} | {len(rows) - 1}
        self.series = [r for n, r in enumerate(rows) if n in chosen or r[0] in keep]

    def _sample(self, ts: int, mark: Decimal, last: Decimal | None) -> None:
        """One report point: prices, and per main mode liquidation price, equity, ratio."""
        second = ts // 1_000_000_000
        if self.series and self.series[-1][0] == second:
            self.series.pop()  # one point a second: the chart's time axis needs them distinct
        row: list[Any] = [second, float(mark), float(last) if last else None]
        for name in self.main:
            watch = self.watches[name]
            figures = account_figures(self.kernel.account(name))
            ratio = (
                figures.positions[0].margin_ratio
                if figures.positions and watch.mode is MarginMode.ISOLATED
                else figures.cross_margin_ratio
                if figures.positions
                else None
            )
            row += [
                float(watch.liquidation) if watch.liquidation is not None else None,
                float(figures.margin_balance),
                float(ratio) if ratio is not None else None,
            ]
        self.series.append(row)

    # -- the answer ------------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        s = self.scenario
        prices = self.kernel.prices(s.venue, s.symbol)
        if self.entry is None:
            raise InputError(
                f"compare: the session has no {s.venue} {s.symbol} trade"
                + (" at or after the entry time" if s.entry_ns is not None else "")
                + " with a mark price before it: nothing to open at. Check --symbol and --venue"
                " against the session (`marginbot replay FILE` lists what it holds) and give an"
                " --entry time inside it"
            )
        mark = prices.mark if prices else None
        last = prices.last if prices else None
        self.exit = {
            "ts_event": self._last_ts,
            "time": iso(self._last_ts),
            "mark_price": fmt(mark) if mark is not None else None,
            "last_price": fmt(last) if last is not None else None,
        }
        if mark is not None:
            self._sample(self._last_ts, mark, last)
        self._thin()
        modes = {w.mode.value: self._mode(w) for w in self.watches.values() if w.name in self.main}
        grid = [
            {
                "leverage": fmt(leverage),
                **{
                    mode.value: self._mode(self.watches[f"{mode.value}-{fmt(leverage)}x"])
                    for mode in MODES
                },
            }
            for leverage in sorted(s.leverages())
        ]
        document = {
            "symbol": s.symbol,
            "venue": s.venue,
            "side": s.side,
            "qty": fmt(s.qty),
            "leverage": fmt(s.leverage),
            "wallet": fmt(s.wallet),
            "entry": self.entry,
            "exit": self.exit,
            "modes": modes,
            "grid": grid if s.grid else [],
            "series": {
                "columns": [
                    "t", "mark", "last",
                    *(f"{m.value}_{c}" for m in MODES
                      for c in ("liquidation", "equity", "margin_ratio")),
                ],
                "rows": self.series,
            },
        }  # fmt: skip
        document["verdict"] = verdict(document)
        return document

    def _mode(self, watch: Watch) -> dict[str, Any]:
        s = self.scenario
        figures = account_figures(self.kernel.account(watch.name))
        liquidated = watch.liquidated
        at = None
        lost = ZERO
        if liquidated is not None:
            gone = liquidated.liquidation.positions[0]
            at = {
                "ts_event": liquidated.ts,
                "time": iso(liquidated.ts),
                "mark_price": fmt(gone.mark_price),
                "last_price": fmt(watch.liquidated_last) if watch.liquidated_last else None,
                "liquidation_price": fmt(gone.liquidation_price)
                if gone.liquidation_price is not None
                else None,
            }
            lost = liquidated.liquidation.loss
        wallet_after = figures.wallet_balance + figures.isolated_margin
        return {
            "margin_mode": watch.mode.value,
            "leverage": fmt(watch.leverage),
            "opened": watch.opened,
            "refused": watch.refused,
            "initial_margin": fmt(watch.initial_margin),
            "liquidated": liquidated is not None,
            "liquidated_at": at,
            "margin_lost": fmt(lost),
            "wallet_after": fmt(wallet_after),
            "equity_after": fmt(figures.margin_balance),
            "pnl": fmt(figures.margin_balance - s.wallet),
            "closest_liquidation_distance": {
                "by_mark": watch.by_mark.json(),
                "by_last": watch.by_last.json(),
            },
            "alerts": [
                {
                    "kind": a.kind,
                    "severity": a.severity.value,
                    "ts_event": a.ts_event,
                    "time": iso(a.ts_event),
                    "message": a.message,
                }
                for a in watch.alerts
            ],
            "alert_counts": dict(sorted(watch.alert_counts.items())),
        }


def _pct(closest: dict[str, Any] | None) -> str:
    return percent(closest["distance"] if closest else None)


def verdict(document: dict[str, Any]) -> str:
    """The answer in words, a sentence per mode and one to weigh them."""
    lines = []
    wallet = document["wallet"]
    for name in ("isolated", "cross"):
        mode = document["modes"][name]
        head = f"{name.capitalize()} at {mode['leverage']}x"
        if not mode["opened"]:
            lines.append(f"{head} could not open: {mode['refused']}.")
            continue
        if mode["liquidated"]:
            at = mode["liquidated_at"]
            lines.append(
                f"{head} was liquidated at mark {_money(at['mark_price'])} on {at['time']} "
                f"(last price {_money(at['last_price'])}): it lost {_money(mode['margin_lost'])} "
                f"USDT of margin and ends with {_money(mode['equity_after'])} of "
                f"{_money(wallet)}."
            )
        else:
            closest = mode["closest_liquidation_distance"]
            lines.append(
                f"{head} survived with equity {_money(mode['equity_after'])} of "
                f"{_money(wallet)}; it came within {_pct(closest['by_mark'])} of its "
                f"liquidation price by the mark ({_pct(closest['by_last'])} by the last price)."
            )
    isolated, cross = document["modes"]["isolated"], document["modes"]["cross"]
    if isolated["liquidated"] and not cross["liquidated"]:
        lines.append(
            "Isolated capped the loss at its margin and was liquidated sooner; cross survived "
            "this move by putting the whole wallet behind the position."
        )
    elif cross["liquidated"] and isolated["liquidated"]:
        lines.append("Both were liquidated: the move was too deep for either at this leverage.")
    elif cross["liquidated"]:
        lines.append("Cross was liquidated and took the wallet; isolated was not.")
    else:
        lines.append("Neither was liquidated over this period.")
    return " ".join(lines)
