"""`marginbot demo`: the classic cross-versus-isolated story, told by the ledger.

Two traders hold 2,000 USDT each and open the same 10x long of 1 BTCUSDT at 10,000 on Binance,
one isolated with 1,000 USDT margin, one cross. The mark price then falls step by step; at each
step the ledger values both accounts and liquidates what Binance would liquidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from bot.core.events import Fill, Liquidation
from bot.core.figures import account_figures
from bot.core.ledger import Account
from bot.core.liquidation import liquidate_all, liquidation_price
from bot.core.values import MarginMode, OrderSide, Venue, money
from bot.markets.snapshot import bundled_for

SYMBOL = "BTCUSDT"
ENTRY = Decimal(10_000)
WALLET = Decimal(2_000)
LEVERAGE = Decimal(10)
TICK = Decimal(10)  # the mark moves in 10 USDT ticks; rows print every `step`


@dataclass
class Trader:
    name: str
    account: Account
    liquidation: Liquidation | None = None


def _usd(value: Decimal | None) -> str:
    return "--" if value is None else f"{money(value):,.2f}"


def _pct(value: Decimal | None) -> str:
    return "--" if value is None else f"{value * 100:.1f}%"


def open_trader(name: str, mode: MarginMode) -> Trader:
    account = Account(Venue.BINANCE, bundled_for(Venue.BINANCE), WALLET)
    account.set_margin_mode(SYMBOL, mode)
    account.set_leverage(SYMBOL, LEVERAGE)
    account.set_mark(SYMBOL, ENTRY)
    fill = Fill(SYMBOL, OrderSide.BUY, Decimal(1), ENTRY)
    account.check_can_open(fill)
    account.apply_fill(fill)
    return Trader(name, account)


def _equity(trader: Trader) -> Decimal:
    figures = account_figures(trader.account)
    return figures.margin_balance


def _status(trader: Trader) -> str:
    figures = account_figures(trader.account)
    if trader.liquidation is not None:
        return f"liquidated   equity {_usd(figures.margin_balance)}"
    ratio = figures.positions[0].margin_ratio
    return f"ratio {_pct(ratio):>6}  equity {_usd(figures.margin_balance)}"


def run_demo(out: TextIO, step: int = 250) -> int:
    traders = [open_trader("A isolated", MarginMode.ISOLATED), open_trader("B cross", MarginMode.CROSS)]
    fee = traders[0].account.fees.taker
    out.write(
        f"Two traders hold {_usd(WALLET)} USDT each and buy 1 {SYMBOL} at {_usd(ENTRY)} with "
        f"{LEVERAGE}x leverage on Binance (taker fee {fee * 100}%).\n"
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
    mark = ENTRY
    while mark > 0 and any(t.liquidation is None for t in traders):
        events = False
        for trader in traders:
            trader.account.set_mark(SYMBOL, mark)
            for event in liquidate_all(trader.account):
                trader.liquidation = event
                events = True
                _report(out, trader, event)
        if events or (ENTRY - mark) % step == 0:
            out.write(f"  {_usd(mark):>10}   {_status(traders[0]):<36}{_status(traders[1])}\n")
        mark -= TICK
    out.write("\nWhat happened:\n")
    for trader in traders:
        left = _equity(trader)
        outcome = "was liquidated" if trader.liquidation else "survived"
        out.write(
            f"  {trader.name:<11} {outcome}; it keeps {_usd(left)} of its {_usd(WALLET)} USDT.\n"
        )
    return 0


def _report(out: TextIO, trader: Trader, event: Liquidation) -> None:
    gone = event.positions[0]
    out.write(
        f"  !! {trader.name} liquidated at mark {_usd(gone.mark_price)} (liquidation price "
        f"{_usd(gone.liquidation_price)}, bankruptcy {_usd(gone.bankruptcy_price)}): loses "
        f"{_usd(event.loss)} USDT, clearance fee {_usd(event.clearance_fee)}\n"
    )
