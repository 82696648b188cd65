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
from bot.core.orders.desk import AccountDesk
from bot.core.prices import SymbolPrices
from bot.core.speed.bands import (
    EVERYWHERE,
    Allocation,
    Band,
    allocate,
    around,
    far_inside,
    isolated_width,
    within,
)
from bot.core.values import ZERO, MarginMode, approx, div, fmt

NS = 1_000_000_000
_PRICE_EVENTS = frozenset({MarkPrice, Trade, LastPrice})


@dataclass(slots=True)
class _Calm:
    """A symbol every holder of which was found calm."""

    stamp: int  # the engine's stamp of the symbol then
    band: Band  # the marks at which no holder's ratio crosses a level
    threshold: Decimal  # the lowest divergence threshold of the holders
    near: Decimal | None  # the widest near-liquidation distance; None: a liquidation price
    # may lie inside the band
    window_mark: Decimal | None = None
    window: Band = EVERYWHERE  # last prices surely within `threshold` of `window_mark`


_SURELY = Decimal(1) - Decimal("1e-20")


@dataclass(slots=True)
class _Latch:
    armed: bool = True
    last_fired: int | None = None
    level: int = -1  # liquidation_risk: index of the highest level crossed now
    peak: int = -1  # liquidation_risk: highest level reported within the cooldown


class AlertRules:
    def __init__(self, engine: Engine, book: RuleBook | None = None) -> None:
        self.engine = engine
        self._board = engine.prices.symbols
        self._stamped = engine.stamps.symbols  # the engine's change stamps, by symbol
        self.book = book or RuleBook()
        self._latches: dict[tuple[str, ...], _Latch] = {}
        self.views = RiskViews()
        # (account, symbol) → ((mark, index, ledger state), last, divergence latches armed) of
        # the last evaluation that changed nothing.
        self._quiet: dict[tuple[str, str], tuple[tuple[object, ...], object, bool]] = {}
        self._held_back = False
        self._moved = False  # a latch was made or changed by the evaluation under way
        self._level_moved = False  # a risk latch changed level: the ratio limits moved
        self._settings: dict[tuple[str, str], RuleSettings] = {}  # the book's answers
        # (venue, symbol) → when every account holding it was last found quiet and armed
        # (see `_on_price`).
        self._calm: dict[tuple[str, str], _Calm] = {}
        # (account, symbol) → (symbol stamp, band, no liquidation price inside it) of one holder
        # found calm: `_calm` for one
        self._held_calm: dict[tuple[str, str], tuple[int, Band, bool]] = {}
        # account → the bands of its cross symbols in which its cross ratio crosses no level
        self._allocations: dict[str, Allocation] = {}

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
        # Every account holding the symbol was found calm (see `_evaluate`), no position of the
        # symbol or wallet behind it changed since, the mark stayed inside the band in which no
        # margin ratio can cross a level (`bands.py`), and either mark and last stay closer
        # than any divergence threshold, or both are farther from the band's edges than any
        # near-liquidation distance while no liquidation price can lie inside the band: every
        # rule would stay silent and no latch would move.
        calm = self._calm.get((venue, symbol))
        if (
            calm is not None
            and calm.stamp == self._stamped.get(symbol, 0)
            and calm.band[0] < mark < calm.band[1]
        ):
            if last is None:
                return []
            if calm.window_mark is not mark:
                # Last prices surely closer to this mark than the threshold: two comparisons
                # instead of a division at every trade (the margin covers the division's
                # rounding; outside it the division decides, as the rule would).
                reach = calm.threshold * mark * _SURELY
                calm.window, calm.window_mark = (mark - reach, mark + reach), mark
            if (
                calm.window[0] < last < calm.window[1]
                or div(abs(mark - last), mark) < calm.threshold
                or (calm.near is not None and _far(calm.band, mark, last, calm.near))
            ):
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
        all_calm = True
        threshold: Decimal | None = None
        stamp = self._stamped.get(symbol, 0)
        divergence = ZERO if last is None else div(abs(mark - last), mark)
        holders = [d for d in self.engine.desks_on(venue) if d.account.holds(symbol)]
        for desk in holders:
            allocation = self._allocations.get(desk.name)
            if allocation is not None and allocation.left(symbol, mark):
                self._forget_allocation(desk.name, venue)
        band = EVERYWHERE
        near: Decimal | None = ZERO  # the widest near-liquidation distance, None if unsafe
        for desk in holders:
            settings = self._settings_for(desk.name, symbol)
            threshold = (
                settings.divergence if threshold is None else min(threshold, settings.divergence)
            )
            # The same test for one holder: while another holder keeps the symbol busy, a
            # calm one costs a comparison, not an evaluation.
            key = (desk.name, symbol)
            held = self._held_calm.get(key)
            if (
                held is not None
                and held[0] == stamp
                and held[1][0] < mark < held[1][1]
                and (
                    last is None
                    or divergence < settings.divergence
                    or (held[2] and _far(held[1], mark, last, settings.near_liquidation))
                )
            ):
                band = within(band, held[1])
                near = _nearer(near, held[2], settings.near_liquidation)
                continue
            found, account_calm = self._evaluate(
                desk.name, desk.account, symbol, prices, settings, ts
            )
            alerts += found
            own = self._holder_band(desk, symbol, mark) if account_calm else None
            if own is None:
                self._held_calm.pop(key, None)
                all_calm = False
            else:
                self._held_calm[key] = (stamp, *own)
                band = within(band, own[0])
                near = _nearer(near, own[1], settings.near_liquidation)
        if all_calm and threshold is not None:
            self._calm[(venue, symbol)] = _Calm(stamp, band, threshold, near)
        else:
            self._calm.pop((venue, symbol), None)
        return alerts

    # -- the shortcuts' seam: a subclass without them (the differential tests') returns None
    # from both, and every tick is evaluated in full ----------------------------------------

    def _quiet_state(self, account: Account, symbol: str) -> tuple[object, ...] | None:
        """What an evaluation of the holder depends on besides the prices and the latches:
        the same state at the same prices as a quiet evaluation is quiet again."""
        return _ledger_state(account, symbol)

    def _holder_band(
        self, desk: AccountDesk, symbol: str, mark: Decimal
    ) -> tuple[Band, bool] | None:
        """The marks of the symbol at which none of the holder's margin ratios crosses a level
        of its risk latch (for cross positions: while the account's other marks stay in their
        allocated bands), and whether no position can be liquidated inside them either (every
        ratio kept below a ceiling of at most 1): then no liquidation price lies inside."""
        band = EVERYWHERE
        unliquidated = True
        account = desk.account
        if account.has_cross_on(symbol):
            allocation = self._allocations.get(desk.name)
            if allocation is None or allocation.stamp != account.ledger_epoch():
                allocation = self._allocate(desk.name, account)
                if allocation is None:
                    return None
            band = allocation.bands[symbol]
            unliquidated = allocation.unliquidated
        for position in account.positions_of(symbol):
            if position.margin_mode is MarginMode.ISOLATED:
                floor, ceiling = self._ratio_limits(desk.name, position)
                width = isolated_width(account, position, floor, ceiling)
                if width is None:
                    return None
                band = within(band, around(mark, width))
                unliquidated = unliquidated and ceiling is not None and ceiling <= 1
        return band, unliquidated

    def _allocate(self, name: str, account: Account) -> Allocation | None:
        floors, ceilings = [], []
        for position in account.cross_positions():
            floor, ceiling = self._ratio_limits(name, position)
            if floor is not None:
                floors.append(floor)
            if ceiling is not None:
                ceilings.append(ceiling)
        allocation = allocate(
            account,
            account.ledger_epoch(),
            max(floors) if floors else None,
            min(ceilings) if ceilings else None,
        )
        if allocation is None:
            self._allocations.pop(name, None)
        else:
            self._allocations[name] = allocation
        return allocation

    def _forget_allocation(self, name: str, venue: str) -> None:
        """The account's allocation no longer holds: neither do the bands cut to it."""
        allocation = self._allocations.pop(name, None)
        if allocation is not None:
            for symbol in allocation.bands:
                self._calm.pop((venue, symbol), None)
                self._held_calm.pop((name, symbol), None)

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
        state = self._quiet_state(account, symbol)
        inputs = (mark, index, state)
        quiet = self._quiet.get(quiet_key) if state is not None else None
        if (
            quiet is not None
            and quiet[0] == inputs
            and (
                quiet[1] == last
                or (
                    quiet[2]
                    and last is not None
                    and div(abs(mark - last), mark) < settings.divergence
                )
            )
        ):
            return [], quiet[2]
        self._held_back = self._moved = self._level_moved = False
        found: list[Alert] = []
        views, cross_ratio = self.views.of(account, symbol)
        for position in views:
            found += self._divergence(name, position, mark, last, index, cross_ratio, settings, ts)
            found += self._risk(name, position, settings, ts)
        if state is None or found or self._held_back or self._moved:
            self._quiet.pop(quiet_key, None)
            if self._level_moved:
                self._forget_allocation(name, str(account.venue))
            return found, False
        # Every divergence latch armed (a latch not made yet is an armed one).
        armed = all(self._armed((name, symbol, v.slot, "divergence")) for v in views)
        self._quiet[quiet_key] = (inputs, last, armed)
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


def _far(band: Band, mark: Decimal, last: Decimal, near: Decimal) -> bool:
    """Mark and last both farther than `near` from the edges of a band no liquidation price
    lies inside: the divergence rule cannot fire, however far apart they are."""
    return far_inside(band, mark, near) and far_inside(band, last, near)


def _nearer(near: Decimal | None, unliquidated: bool, distance: Decimal) -> Decimal | None:
    return None if near is None or not unliquidated else max(near, distance)


def _ledger_state(account: Account, symbol: str) -> tuple[object, ...]:
    """Everything of the ledger the price rules read for the symbol's positions: the positions
    (by the ledger's stamp, which changes with any of them) and the wallet; for cross positions
    sharing the wallet with other symbols', also the cross totals, through which the others'
    marks and positions reach their margin ratio and liquidation price."""
    if account.has_cross_beyond(symbol) and account.has_cross_on(symbol):
        return (account.wallet_balance, account.ledger_stamp(symbol), account.cross_totals())
    return (account.wallet_balance, account.ledger_stamp(symbol))
