"""The price rules (pure, deterministic): at every tick, for every position of the symbol,
the mark-vs-last divergence near liquidation and the margin ratio's levels. `AlertRules` is the
alert rules' one entry: price events go to these rules, engine and feed events to
event_rules.py, both with the settings of settings.py.

Every rule that watches a level has **hysteresis** (after firing it re-arms only once the
condition has cleared by a margin: `hysteresis` × its threshold) and a **cooldown** (it never
fires twice for the same position within `cooldown_s` of exchange time), so a price oscillating
at a threshold raises one alert per episode.

mark_last_divergence: for a position with a liquidation price, the distance to it by mark and by
last (|price − LP| / price) and the divergence |mark − last| / mark. It fires when the position
is within `near_liquidation` of its liquidation price by either price and the divergence is at
least `divergence`. It is critical when the mark (which liquidates) is the closer of the two:
the trader watching the last price believes they are safer than they are.

liquidation_risk: the margin ratio (isolated: the position's; cross: the account's) crossing
`margin_ratio_levels` upward (warning, critical at the top level) and back down (info). A level
higher than any reported always alerts; the cooldown only silences re-crossing a level already
reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.core.alerting.alert import Alert, Severity, pct
from bot.core.alerting.event_rules import EVENT_RULES, event_alert, feed_stream
from bot.core.alerting.settings import RuleBook, RuleSettings
from bot.core.engine import Engine
from bot.core.feed_events import FeedRecovered, FeedStale
from bot.core.ledger.account import Account, Position
from bot.core.ledger.risk import RiskView, RiskViews
from bot.core.market import LastPrice, MarkPrice, Trade
from bot.core.prices import SymbolPrices
from bot.core.speed.bands import (
    EVERYWHERE,
    within,
)
from bot.core.speed.calm_rules import CalmRules, nearer
from bot.core.values import ZERO, MarginMode, approx, div, fmt

NS = 1_000_000_000
_PRICE_EVENTS = frozenset({MarkPrice, Trade, LastPrice})


@dataclass(slots=True)
class _Latch:
    armed: bool = True
    last_fired: int | None = None
    level: int = -1  # liquidation_risk: index of the highest level crossed now
    peak: int = -1  # liquidation_risk: highest level reported within the cooldown


class AlertRules:
    def __init__(
        self, engine: Engine, book: RuleBook | None = None, calm: type[CalmRules] = CalmRules
    ) -> None:
        """`calm`: the rules' shortcuts (bot/core/speed; the differential tests give one that
        never remembers)."""
        self.engine = engine
        self._board = engine.prices.symbols
        self._stamped = engine.stamps.symbols  # the engine's change stamps, by symbol
        self.book = book or RuleBook()
        self._latches: dict[tuple[str, ...], _Latch] = {}
        self.views = RiskViews()
        self._held_back = False
        self._moved = False  # a latch was made or changed by the evaluation under way
        self._level_moved = False  # a risk latch changed level: the ratio limits moved
        self._settings: dict[tuple[str, str], RuleSettings] = {}  # the book's answers
        self.calm = calm(engine.stamps, self._ratio_limits)
        self._symbol_is_calm = self.calm.symbol_is_calm  # bound once: asked at every tick

    def on_event(self, event: Any) -> list[Alert]:
        kind = type(event)
        if kind in _PRICE_EVENTS:
            return self._on_price(event.venue, event.symbol, event.ts_event)
        if kind not in EVENT_RULES:
            return []  # book tops, fills without a role, ...: nothing to say
        if kind is FeedStale or kind is FeedRecovered:
            # One stale alert per outage of a stream (a venue endpoint), however many reconnects
            # it takes; recovery re-arms.
            latch = self._latch(feed_stream(event.conn), "feed")
            stale = isinstance(event, FeedStale)
            if stale == (not latch.armed):
                return []
            latch.armed = not stale
        return event_alert(event, self.book)

    # -- price-driven rules ----------------------------------------------------------------------

    def _on_price(self, venue: str, symbol: str, ts: int) -> list[Alert]:
        prices = self._board.get((venue, symbol))
        if prices is None:
            return []
        mark, last = prices.mark, prices.last
        if mark is None:
            return []
        # Every holder calm, and this tick can make no rule fire (bot/core/speed/calm_rules.py).
        if self._symbol_is_calm(venue, symbol, mark, last):
            return []
        return self._holders(venue, symbol, prices, mark, last, ts)

    def _holders(
        self,
        venue: str,
        symbol: str,
        prices: SymbolPrices,
        mark: Decimal,
        last: Decimal | None,
        ts: int,
    ) -> list[Alert]:
        """Each holder of the symbol, evaluated unless calm itself; the symbol's calm kept."""
        alerts: list[Alert] = []
        calm = self.calm
        all_calm = True
        threshold: Decimal | None = None
        stamp = self._stamped.get(symbol, 0)
        divergence = ZERO if last is None else div(abs(mark - last), mark)
        holders = [d for d in self.engine.desks_on(venue) if d.account.holds(symbol)]
        calm.left_allocations(holders, symbol, mark)
        band = EVERYWHERE
        near: Decimal | None = ZERO  # the widest near-liquidation distance, None if unsafe
        for desk in holders:
            settings = self._settings_for(desk.name, symbol)
            threshold = (
                settings.divergence if threshold is None else min(threshold, settings.divergence)
            )
            held = calm.holder_calm(
                (desk.name, symbol), stamp, mark, last, divergence, settings.divergence,
                settings.near_liquidation,
            )  # fmt: skip
            if held is not None:
                band = within(band, held[1])
                near = nearer(near, held[2], settings.near_liquidation)
                continue
            found, account_calm = self._evaluate(
                desk.name, desk.account, symbol, prices, settings, ts
            )
            alerts += found
            own = calm.after_evaluation(desk, symbol, stamp, mark, account_calm)
            if own is None:
                all_calm = False
            else:
                band = within(band, own[0])
                near = nearer(near, own[1], settings.near_liquidation)
        calm.remember_symbol(venue, symbol, stamp, band, threshold, near, all_calm)
        return alerts

    def _ratio_limits(self, name: str, position: Position) -> tuple[Decimal | None, Decimal | None]:
        """The margin ratios between which the position's risk rule stays silent: down to the
        re-arm point of the level it is at, up to the next level."""
        settings = self._settings_for(name, position.symbol)
        latch = self._latches.get((name, position.symbol, position.slot, "risk"))
        level = -1 if latch is None else latch.level
        levels = settings.margin_ratio_levels
        floor = levels[level] * (1 - settings.hysteresis) if level >= 0 else None
        ceiling = levels[level + 1] if level + 1 < len(levels) else None
        return floor, ceiling

    def _settings_for(self, name: str, symbol: str) -> RuleSettings:
        settings = self._settings.get((name, symbol))
        if settings is None:
            settings = self._settings[(name, symbol)] = self.book.for_(name, symbol)
        return settings

    def _evaluate(
        self,
        name: str,
        account: Account,
        symbol: str,
        prices: SymbolPrices,
        settings: RuleSettings,
        ts: int,
    ) -> tuple[list[Alert], bool]:
        """The account's price alerts on the symbol, and whether it is now calm: quiet with
        every divergence latch armed, its risk not moving with other symbols' marks."""
        mark, last, index = prices.mark, prices.last, prices.index
        assert mark is not None
        quiet_key = (name, symbol)
        # The rules are a function of these inputs and of their latches; when an evaluation
        # with the same inputs changed nothing (no alert, no latch moved, nothing held back by
        # a cooldown), evaluating again would change nothing either. Nor does a new last price
        # alone, when every divergence latch is armed and mark and last stay closer than the
        # divergence threshold: the risk rule does not read the last price, and the divergence
        # rule cannot fire.
        state = self.calm.state(account, symbol)
        inputs = (mark, index, state)
        if state is not None:
            armed = self.calm.unchanged(quiet_key, inputs, mark, last, settings.divergence)
            if armed is not None:
                return [], armed
        self._held_back = self._moved = self._level_moved = False
        found: list[Alert] = []
        views, cross_ratio = self.views.of(account, symbol)
        for position in views:
            found += self._divergence(name, position, mark, last, index, cross_ratio, settings, ts)
            found += self._risk(name, position, settings, ts)
        if state is None or found or self._held_back or self._moved:
            self.calm.memo.pop(quiet_key, None)
            if self._level_moved:
                self.calm.forget_allocation(name, str(account.venue))
            return found, False
        # Every divergence latch armed (a latch not made yet is an armed one).
        armed = all(self._armed((name, symbol, v.slot, "divergence")) for v in views)
        self.calm.memo[quiet_key] = (inputs, last, armed)
        return found, armed

    def _armed(self, key: tuple[str, ...]) -> bool:
        latch = self._latches.get(key)
        return latch is None or latch.armed

    def _latch(self, *key: str) -> _Latch:
        latch = self._latches.get(key)
        if latch is None:
            latch = self._latches[key] = _Latch()
            self._moved = True
        return latch

    @staticmethod
    def _cooled(latch: _Latch, settings: RuleSettings, ts: int) -> bool:
        return latch.last_fired is None or ts - latch.last_fired >= settings.cooldown_s * NS

    def _divergence(
        self,
        account: str,
        p: RiskView,
        mark: Decimal,
        last: Decimal | None,
        index: Decimal | None,
        cross_ratio: Decimal | None,
        settings: RuleSettings,
        ts: int,
    ) -> list[Alert]:
        if last is None:
            return []
        divergence = div(abs(mark - last), mark)
        latch = self._latch(account, p.symbol, p.slot, "divergence")
        # Armed and not diverged, it cannot fire whatever the distance: nothing to solve.
        quiet = latch.armed and divergence < settings.divergence
        lp = None if quiet else p.liquidation_price
        if lp is None or lp == ZERO:
            return []
        by_mark = div(abs(mark - lp), mark)
        by_last = div(abs(last - lp), last)
        nearest = min(by_mark, by_last)
        h = settings.hysteresis
        if not latch.armed:
            if nearest > settings.near_liquidation * (1 + h) or divergence < settings.divergence * (
                1 - h
            ):
                latch.armed = True
                self._moved = True
            return []
        if nearest > settings.near_liquidation or divergence < settings.divergence:
            return []
        if not self._cooled(latch, settings, ts):
            self._held_back = True  # the same prices may alert once the cooldown has passed
            return []
        latch.armed, latch.last_fired = False, ts
        self._moved = True
        mark_closer = by_mark < by_last
        severity = Severity.CRITICAL if mark_closer else Severity.WARNING
        message = (
            f"{p.symbol} {p.side} ({p.margin_mode}) is {pct(by_mark)} % from liquidation at "
            f"{approx(lp)} by the mark but {pct(by_last)} % by the last price: mark {fmt(mark)} "
            f"and last {fmt(last)} diverge by {pct(divergence)} %"
            + ("; the mark, which liquidates, is the closer" if mark_closer else "")
        )
        return [
            Alert(
                "mark_last_divergence",
                severity,
                ts,
                account,
                p.symbol,
                message,
                (
                    ("side", p.side.value),
                    ("margin_mode", p.margin_mode.value),
                    ("mark_price", fmt(mark)),
                    ("last_price", fmt(last)),
                    ("index_price", fmt(index) if index is not None else None),
                    ("liquidation_price", fmt(lp)),
                    ("distance_mark_pct", pct(by_mark)),
                    ("distance_last_pct", pct(by_last)),
                    ("divergence_pct", pct(divergence)),
                    ("margin_ratio", fmt(p.margin_ratio) if p.margin_ratio is not None else None),
                    (
                        "account_margin_ratio",
                        fmt(cross_ratio)
                        if p.margin_mode is MarginMode.CROSS and cross_ratio is not None
                        else None,
                    ),
                ),
            )
        ]

    def _risk(self, account: str, p: RiskView, settings: RuleSettings, ts: int) -> list[Alert]:
        ratio = p.margin_ratio
        if ratio is None:
            return []
        levels = settings.margin_ratio_levels
        latch = self._latch(account, p.symbol, p.slot, "risk")
        crossed = max((i for i, level in enumerate(levels) if ratio >= level), default=-1)
        if crossed > latch.level:
            # A higher level than reported is news and always alerts; re-crossing a level
            # already reported within the cooldown stays silent.
            cooled = self._cooled(latch, settings, ts)
            latch.level = crossed
            self._moved = self._level_moved = True
            if not cooled and crossed <= latch.peak:
                return []
            latch.peak = crossed if cooled else max(latch.peak, crossed)
            latch.last_fired = ts
            top = crossed == len(levels) - 1
            return [
                self._risk_alert(
                    account,
                    p,
                    levels[crossed],
                    "up",
                    Severity.CRITICAL if top else Severity.WARNING,
                    ts,
                )
            ]
        if latch.level >= 0 and ratio < levels[latch.level] * (1 - settings.hysteresis):
            was = levels[latch.level]
            latch.level = crossed
            self._moved = self._level_moved = True
            return [self._risk_alert(account, p, was, "down", Severity.INFO, ts)]
        return []

    @staticmethod
    def _risk_alert(
        account: str,
        p: RiskView,
        level: Decimal,
        direction: str,
        severity: Severity,
        ts: int,
    ) -> Alert:
        ratio = p.margin_ratio or ZERO
        verb = "rose above" if direction == "up" else "fell back below"
        message = (
            f"{p.symbol} {p.side} ({p.margin_mode}) margin ratio {pct(ratio)} % {verb} "
            f"{pct(level)} %; liquidation at 100 %"
        )
        return Alert(
            "liquidation_risk",
            severity,
            ts,
            account,
            p.symbol,
            message,
            (
                ("direction", direction),
                ("level_pct", pct(level)),
                ("margin_ratio", fmt(ratio)),
                ("margin_mode", p.margin_mode.value),
                ("mark_price", fmt(p.mark_price)),
                ("liquidation_price", fmt(p.liquidation_price) if p.liquidation_price else None),
            ),
        )
