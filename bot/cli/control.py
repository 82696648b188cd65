"""`marginbot order ...` and `marginbot position ...`: commands to the running daemon."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bot.config import load_config
from bot.control.socket_server import send
from bot.core.orders.model import OrderType
from bot.display import money, percent, plain, price
from bot.errors import InputError, MarginbotError, TransientError

DEFAULT_SOCKET = Path("logs/marginbot.sock")


def _socket(args: argparse.Namespace) -> Path:
    if args.socket is not None:
        return Path(args.socket)
    if args.config is not None:
        return Path(load_config(args.config).control.socket)
    return DEFAULT_SOCKET


def _call(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    path = _socket(args)
    try:
        return asyncio.run(send(path, request))
    except (FileNotFoundError, ConnectionRefusedError):
        raise TransientError(
            f"no daemon answers on {path}; start one with "
            "`marginbot run --config FILE` (or pass --socket)"
        ) from None
    except TimeoutError:
        raise TransientError(f"the daemon on {path} did not answer in time") from None


def _number(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise InputError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise InputError(f"{text!r} is not a finite number")
    return text


def _print_reply(reply: dict[str, Any], as_json: bool, quiet_if_unchanged: bool = False) -> int:
    """The reply's events as sentences and a refusal once; a setting the symbol already had is
    said as such (`position leverage`), or not at all within `position open`."""
    if as_json:
        sys.stdout.write(orjson.dumps(reply, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif reply.get("unchanged"):
        if not quiet_if_unchanged:
            for event in reply.get("events", []):
                line = _event_line(event)
                if line is not None:
                    sys.stdout.write(line.replace(" set to ", " is already ") + "\n")
    else:
        for event in reply.get("events", []):
            line = _event_line(event)
            if line is not None:
                sys.stdout.write(line + "\n")
        if not reply.get("ok"):
            sys.stdout.write(f"refused: {reply.get('error')}\n")  # once, in words
    return 0 if reply.get("ok") else 1


def _setting_line(change: dict[str, Any]) -> str:
    symbol = change.get("symbol", "")
    words: dict[str, Callable[[Any], str]] = {
        "leverage": lambda v: f"leverage of {symbol} set to {plain(v)}x",
        "margin_mode": lambda v: f"margin mode of {symbol} set to {v}",
        "position_mode": lambda v: f"position mode set to {v}",
        "amount": lambda v: f"isolated margin of {symbol} changed by {plain(v)}",
    }
    for key, say in words.items():
        if key in change:
            return say(change[key])
    return "setting changed: " + _flat(change)


_money, _percent = money, percent  # as `status` shows them (bot/display.py)


def _event_line(event: dict[str, Any]) -> str | None:
    """One readable sentence per event; None for a refusal, which the reply says once."""
    kind = event.get("type", "?")
    if kind in ("order_rejected", "command_refused"):
        return None
    if kind == "setting_changed":
        return _setting_line(event.get("change") or {})
    if kind == "order_canceled":
        return f"canceled {event.get('order_id')}: {event.get('reason')}"
    if kind == "order_filled":
        fill = event["fill"]
        return (
            f"filled {event['order_id']} ({event['role']}): {fill['side']} {plain(fill['qty'])} "
            f"{fill['symbol']} at {plain(fill['price'])}, fee {plain(fill['fee'])}, wallet "
            f"{plain(fill['wallet_balance'])}"
        )
    if kind == "order_accepted":
        return f"accepted {event['order_id']}: {event['description']} ({event['status']})"
    details = {k: v for k, v in event.items() if k not in ("type", "ts", "account")}
    return f"{kind.replace('_', ' ')}: " + ", ".join(
        f"{k.replace('_', ' ')} {_flat(v)}" for k, v in details.items() if v is not None
    )


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k.replace('_', ' ')} {_flat(v)}"
            for k, v in value.items()
            if k != "type" and v is not None
        )
    return plain(value)


def order_command(args: argparse.Namespace) -> int:
    if args.action == "cancel":
        return _print_reply(
            _call(
                args, {"cmd": "cancel_order", "account": args.account, "order_id": args.order_id}
            ),
            args.json,
        )
    if args.action == "list":
        return show_state(args, orders_only=True)
    request = {
        "cmd": "place_order",
        "account": args.account,
        "symbol": args.symbol,
        "side": args.side,
        "type": args.type,
        "qty": _number(args.qty),
        "price": _number(args.price),
        "trigger_price": _number(args.trigger),
        "trigger_source": args.trigger_source,
        "time_in_force": args.tif,
        "reduce_only": args.reduce_only,
        "close_position": args.close_position,
        "position_side": args.position_side,
        "callback_rate": _number(args.callback_rate),
        "activation_price": _number(args.activation_price),
    }
    return _print_reply(_call(args, {k: v for k, v in request.items() if v is not None}), args.json)


def position_command(args: argparse.Namespace) -> int:
    base = {"account": args.account, "symbol": getattr(args, "symbol", None)}
    if args.action == "show":
        return show_state(args)
    if args.action == "open":
        return _open(args)
    if args.action == "close":
        request = {"cmd": "close_position", **base}
    elif args.action == "tpsl":
        request = {
            "cmd": "set_tp_sl",
            **base,
            "take_profit": _number(args.take_profit),
            "stop_loss": _number(args.stop_loss),
            "take_profit_source": args.tp_source,
            "stop_loss_source": args.sl_source,
        }
    elif args.action == "leverage":
        request = {"cmd": "set_leverage", **base, "leverage": _number(args.leverage)}
    elif args.action == "margin-mode":
        request = {"cmd": "set_margin_mode", **base, "margin_mode": args.mode}
    else:
        amount = Decimal(_number(args.amount) or "0") * (-1 if args.remove else 1)
        request = {"cmd": "adjust_margin", **base, "amount": str(amount)}
    return _print_reply(_call(args, {k: v for k, v in request.items() if v is not None}), args.json)


def _open(args: argparse.Namespace) -> int:
    """Margin mode, leverage, a market order, then the position's take-profit and stop-loss."""
    steps: list[dict[str, Any]] = []
    if args.margin_mode:
        steps.append(
            {
                "cmd": "set_margin_mode",
                "account": args.account,
                "symbol": args.symbol,
                "margin_mode": args.margin_mode,
            }
        )
    if args.leverage:
        steps.append(
            {
                "cmd": "set_leverage",
                "account": args.account,
                "symbol": args.symbol,
                "leverage": _number(args.leverage),
            }
        )
    steps.append(
        {
            "cmd": "place_order",
            "account": args.account,
            "symbol": args.symbol,
            "side": "buy" if args.side == "long" else "sell",
            "type": "market",
            "qty": _number(args.qty),
        }
    )
    if args.take_profit or args.stop_loss:
        request = {
            "cmd": "set_tp_sl",
            "account": args.account,
            "symbol": args.symbol,
            "take_profit": _number(args.take_profit),
            "stop_loss": _number(args.stop_loss),
            "take_profit_source": args.tp_source,
            "stop_loss_source": args.sl_source,
        }
        steps.append({k: v for k, v in request.items() if v is not None})
    for step in steps:
        settings = step["cmd"] in ("set_margin_mode", "set_leverage")
        code = _print_reply(_call(args, step), args.json, quiet_if_unchanged=settings)
        if code:
            return code
    return 0


def show_state(args: argparse.Namespace, orders_only: bool = False) -> int:
    reply = _call(args, {"cmd": "query", "account": args.account})
    if not reply.get("ok"):
        raise MarginbotError(str(reply.get("error")))
    if args.json:
        sys.stdout.write(orjson.dumps(reply["state"], option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for name, state in reply["state"].items():
        account = state["account"]
        if not orders_only:
            sys.stdout.write(
                f"{name} ({state['venue']}): wallet {_money(account['wallet_balance'])}, margin "
                f"balance {_money(account['margin_balance'])}, maintenance "
                f"{_money(account['maintenance_margin'])}, cross ratio "
                f"{_percent(account['cross_margin_ratio'])}, available "
                f"{_money(account['available_balance'])}\n"
            )
            for p in state["positions"]:
                sys.stdout.write(
                    f"  {p['side']:<5} {plain(p['qty'])} {p['symbol']} {p['margin_mode']} entry "
                    f"{price(p['entry_price'])} mark {price(p['mark_price'])} liq "
                    f"{price(p['liquidation_price'])} upnl {_money(p['unrealized_pnl'])} ratio "
                    f"{_percent(p['margin_ratio'])}\n"
                )
        for o in state["orders"]:
            trigger = f" trigger {o['trigger']} on {o['trigger_source']}" if o["trigger"] else ""
            sys.stdout.write(
                f"  order {o['order_id']}: {o['description']} ({o['role']}, "
                f"{o['status']}){trigger}\n"
            )
    return 0


def _common(parser: argparse.ArgumentParser, account_required: bool = True) -> None:
    parser.add_argument(
        "--account",
        required=account_required,
        metavar="NAME",
        help="the account, as named in [[accounts]]"
        + ("" if account_required else " (default: all)"),
    )
    parser.add_argument(
        "--socket",
        type=Path,
        metavar="FILE",
        help="the daemon's control socket (default: from --config, else logs/marginbot.sock)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="read the socket path from this daemon config"
    )
    parser.add_argument("--json", action="store_true", help="print raw JSON replies")


def add_parsers(commands: Any) -> None:
    _order_parsers(commands)
    _position_parsers(commands)


def _order_parsers(commands: Any) -> None:
    common = _common
    order = commands.add_parser("order", help="place, cancel and list orders on the daemon")
    actions = order.add_subparsers(dest="action", required=True, metavar="{place,cancel,list}")
    place = actions.add_parser("place", help="place an order")
    common(place)
    place.add_argument("--symbol", required=True, help="the venue's symbol, e.g. BTCUSDT")
    place.add_argument("--side", choices=["buy", "sell"], required=True, help="buy or sell")
    place.add_argument(
        "--type",
        default="market",
        help="the order type (default market)",
        choices=[t.value for t in OrderType],
    )
    place.add_argument("--qty", help="quantity in the base asset, e.g. 0.01 (BTC)")
    place.add_argument("--price", help="limit price (limit, stop_limit, take_profit_limit)")
    place.add_argument("--trigger", help="trigger price of a stop or take-profit")
    place.add_argument(
        "--trigger-source",
        choices=["mark", "last", "index"],
        default="last",
        help="the price the trigger watches (default last)",
    )
    place.add_argument(
        "--tif",
        choices=["gtc", "ioc", "fok", "post_only"],
        default="gtc",
        help="time in force of a limit order (default gtc)",
    )
    place.add_argument("--reduce-only", action="store_true", help="may only reduce a position")
    place.add_argument(
        "--close-position", action="store_true", help="close the whole position when triggered"
    )
    place.add_argument(
        "--position-side",
        choices=["both", "long", "short"],
        default="both",
        help="hedge mode: the long or the short position (default both: one-way mode)",
    )
    place.add_argument("--callback-rate", help="trailing stop, e.g. 0.01 for 1 %%")
    place.add_argument("--activation-price", help="trailing stop: start trailing at this price")
    cancel = actions.add_parser("cancel", help="cancel an order")
    common(cancel)
    cancel.add_argument("order_id", metavar="ORDER_ID", help="as the daemon gave it, e.g. iso-3")
    listing = actions.add_parser("list", help="list open orders")
    common(listing, account_required=False)
    order.set_defaults(handler=order_command)


def _position_parsers(commands: Any) -> None:
    common = _common
    position = commands.add_parser("position", help="open, close and manage positions")
    actions = position.add_subparsers(
        dest="action",
        required=True,
        metavar="{show,open,tpsl,close,leverage,margin-mode,margin}",
    )
    show = actions.add_parser("show", help="accounts, positions, liquidation prices, orders")
    common(show, account_required=False)
    opening = actions.add_parser("open", help="open a position, with optional TP/SL")
    common(opening)
    opening.add_argument("--symbol", required=True, help="the venue's symbol, e.g. BTCUSDT")
    opening.add_argument("--side", choices=["long", "short"], required=True, help="long or short")
    opening.add_argument("--qty", required=True, help="quantity in the base asset, e.g. 0.2")
    opening.add_argument("--leverage", help="set the symbol's leverage first (default: as it is)")
    opening.add_argument(
        "--margin-mode",
        choices=["cross", "isolated"],
        help="set the symbol's margin mode first (default: as it is)",
    )
    for parser in (opening, tpsl := actions.add_parser("tpsl", help="set take-profit/stop-loss")):
        parser.add_argument("--take-profit", metavar="PRICE", help="take-profit trigger price")
        parser.add_argument("--stop-loss", metavar="PRICE", help="stop-loss trigger price")
        parser.add_argument(
            "--tp-source",
            choices=["mark", "last", "index"],
            default="last",
            help="the price the take-profit watches (default last)",
        )
        parser.add_argument(
            "--sl-source",
            choices=["mark", "last", "index"],
            default="mark",
            help="the price the stop-loss watches (default mark, the liquidation price)",
        )
    common(tpsl)
    tpsl.add_argument("--symbol", required=True, help="the position's symbol")
    close = actions.add_parser("close", help="close a position at market")
    common(close)
    close.add_argument("--symbol", required=True, help="the position's symbol")
    leverage = actions.add_parser("leverage", help="set a symbol's leverage")
    common(leverage)
    leverage.add_argument("--symbol", required=True, help="the symbol")
    leverage.add_argument("leverage", metavar="LEVERAGE", help="e.g. 10 for 10x")
    mode = actions.add_parser("margin-mode", help="set a symbol's margin mode")
    common(mode)
    mode.add_argument("--symbol", required=True, help="the symbol (no position, no open order)")
    mode.add_argument("mode", choices=["cross", "isolated"], help="cross or isolated")
    margin = actions.add_parser("margin", help="add or remove isolated margin")
    common(margin)
    margin.add_argument("--symbol", required=True, help="the isolated position's symbol")
    margin.add_argument("amount", metavar="AMOUNT", help="USDT to add (or remove, with --remove)")
    margin.add_argument("--remove", action="store_true", help="remove instead of add")
    position.set_defaults(handler=position_command)
