"""`marginbot story`: the classic cross-versus-isolated story, told by the ledger.

Two traders hold the same wallet and open the same leveraged long, one isolated, one cross.
The mark price then falls tick by tick; at every tick the ledger values both accounts and
liquidates what the exchange would liquidate. The numbers come from `config/story.toml`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from bot.core.events import Fill, Liquidation
from bot.core.instruments import Instrument, TierTable
from bot.core.ledger.account import DEFAULT_FEES, Account
from bot.core.ledger.figures import account_figures
from bot.core.ledger.liquidation import liquidate_all, liquidation_price
from bot.core.values import ZERO, MarginMode, OrderSide, Venue, money, parse_decimal
from bot.errors import ConfigError, UnknownInstrument
from bot.markets.snapshot import bundled_for


@dataclass(frozen=True)
class StorySettings:
    venue: Venue = Venue.BINANCE
    symbol: str = "BTCUSDT"
    wallet_balance: Decimal = Decimal(2000)
    entry_price: Decimal = Decimal(10_000)
    qty: Decimal = Decimal(1)
    leverage: Decimal = Decimal(10)
    tick: Decimal = Decimal(10)
    print_every: Decimal = Decimal(250)
    taker_fee: Decimal = DEFAULT_FEES[Venue.BINANCE].taker
    maint_margin_rate: Decimal | None = None


def load_settings(path: Path | None) -> StorySettings:
    """Settings from a TOML file; every key optional, unknown keys and bad values refused."""
    settings = StorySettings()
    if path is None:
        return settings
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    known = {f.name for f in fields(StorySettings)}
    changes: dict[str, object] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r}; expected one of {sorted(known)}")
        try:
            changes[key] = _setting(key, value)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return replace(settings, **changes)  # type: ignore[arg-type]


def _setting(key: str, value: object) -> object:
    if key == "venue":
        if value not in {v.value for v in Venue}:
            raise ValueError(f"venue: {value!r} is not valid; expected one of binance, bybit")
        return Venue(value)
    if key == "symbol":
        return str(value).upper()
    number = parse_decimal(value, key)
    if number <= ZERO:
        raise ValueError(f"{key}: must be greater than zero")
    return number


def _instrument(settings: StorySettings) -> Instrument:
    bundled = bundled_for(settings.venue).get(settings.symbol)
    if settings.maint_margin_rate is not None:
        tiers = TierTable.single(settings.maint_margin_rate)
        if bundled is not None:
            return replace(bundled, tiers=tiers)
        return Instrument(settings.venue, settings.symbol, "", "USDT", "USDT", tiers)
    if bundled is None:
        raise UnknownInstrument(
            f"no bundled maintenance tiers for {settings.venue} {settings.symbol}; set "
            "maint_margin_rate in the demo config"
        )
    return bundled


@dataclass
class Trader:
    name: str
    account: Account
    liquidation: Liquidation | None = None


def _usd(value: Decimal | None) -> str:
    return "--" if value is None else f"{money(value):,.2f}"


def _pct(value: Decimal | None) -> str:
    return "--" if value is None else f"{value * 100:.1f}%"


def open_trader(name: str, mode: MarginMode, settings: StorySettings) -> Trader:
    instrument = _instrument(settings)
    fees = replace(DEFAULT_FEES[settings.venue], taker=settings.taker_fee)
    account = Account(
        settings.venue, {instrument.symbol: instrument}, settings.wallet_balance, fees=fees
    )
    account.set_margin_mode(settings.symbol, mode)
    account.set_leverage(settings.symbol, settings.leverage)
    account.set_mark(settings.symbol, settings.entry_price)
    fill = Fill(settings.symbol, OrderSide.BUY, settings.qty, settings.entry_price)
    account.check_can_open(fill)
    account.apply_fill(fill)
    return Trader(name, account)


def _status(trader: Trader) -> str:
    figures = account_figures(trader.account)
    if trader.liquidation is not None:
        return f"liquidated   equity {_usd(figures.margin_balance)}"
    ratio = figures.positions[0].margin_ratio
    return f"ratio {_pct(ratio):>6}  equity {_usd(figures.margin_balance)}"


def run_story(out: TextIO, settings: StorySettings | None = None) -> int:
    s = settings or StorySettings()
    traders = [
        open_trader("A isolated", MarginMode.ISOLATED, s),
        open_trader("B cross", MarginMode.CROSS, s),
    ]
    out.write(
        f"Two traders hold {_usd(s.wallet_balance)} USDT each and buy {s.qty} {s.symbol} at "
        f"{_usd(s.entry_price)} with {s.leverage}x leverage on {s.venue} "
        f"(taker fee {s.taker_fee * 100}%).\n"
    )
    for trader in traders:
        position = next(trader.account.positions())
        lp = liquidation_price(trader.account, position)
        backing = (
            f"{_usd(position.isolated_margin)} USDT isolated margin"
            if position.margin_mode is MarginMode.ISOLATED
            else "the whole cross wallet"
        )
        out.write(f"  {trader.name:<11} backed by {backing}: liquidation price {_usd(lp)}\n")
    out.write("\nThe mark price falls:\n")
    out.write(f"  {'mark':>10}   {traders[0].name:<36}{traders[1].name}\n")
    mark = s.entry_price
    while mark > 0 and any(t.liquidation is None for t in traders):
        liquidated = False
        for trader in traders:
            trader.account.set_mark(s.symbol, mark)
            for event in liquidate_all(trader.account):
                if not isinstance(event, Liquidation):
                    continue  # the story's venue liquidates whole positions
                trader.liquidation = event
                liquidated = True
                _report(out, trader, event)
        if liquidated or (s.entry_price - mark) % s.print_every == 0:
            out.write(f"  {_usd(mark):>10}   {_status(traders[0]):<36}{_status(traders[1])}\n")
        mark -= s.tick
    out.write("\nWhat happened:\n")
    for trader in traders:
        left = account_figures(trader.account).margin_balance
        outcome = "was liquidated" if trader.liquidation else "survived"
        out.write(
            f"  {trader.name:<11} {outcome}; it keeps {_usd(left)} of its "
            f"{_usd(s.wallet_balance)} USDT.\n"
        )
    return 0


def _report(out: TextIO, trader: Trader, event: Liquidation) -> None:
    gone = event.positions[0]
    out.write(
        f"  !! {trader.name} liquidated at mark {_usd(gone.mark_price)} (liquidation price "
        f"{_usd(gone.liquidation_price)}, bankruptcy {_usd(gone.bankruptcy_price)}): loses "
        f"{_usd(event.loss)} USDT, clearance fee {_usd(event.clearance_fee)}\n"
    )
