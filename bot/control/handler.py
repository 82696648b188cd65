"""One place where a command from anywhere (CLI socket, MQTT, replay) meets the engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from bot.calculator import figures_json
from bot.control.codec import QueryJson, correlation_id, decode
from bot.core.commands import SetLeverage, SetMarginMode
from bot.core.engine import Engine, Input
from bot.core.engine_events import CommandRefused, EngineEvent, OrderRejected
from bot.core.figures import account_figures
from bot.core.orders import OrderStatus
from bot.core.values import fmt
from bot.errors import MarginbotError
from bot.session.events_out import event_json


def state_json(engine: Engine, account: str | None) -> dict[str, Any]:
    """Every account's figures at the current marks, and its open orders."""
    names = [account] if account else list(engine.desks)
    result: dict[str, Any] = {}
    for name in names:
        desk = engine.desks.get(name)
        if desk is None:
            raise MarginbotError(f"no account named {name!r}; accounts: {', '.join(engine.desks)}")
        orders = [
            {
                "order_id": o.id,
                "description": o.describe(),
                "status": str(o.status),
                "role": desk.roles[o.id],
                "trigger": fmt(o.trigger) if o.trigger is not None else None,
                "trigger_source": str(o.request.trigger_source)
                if o.request.type.triggered
                else None,
            }
            for o in desk.orders.values()
            if o.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
        ]
        result[name] = {
            "venue": str(desk.account.venue),
            **figures_json(account_figures(desk.account)),
            "orders": orders,
        }
    return result


class CommandHandler:
    def __init__(
        self,
        engine: Engine,
        record: Callable[[dict[str, Any]], None] | None,
        publish: Callable[[list[EngineEvent]], None],
        clock: Callable[[], int] = time.time_ns,
        journal: Callable[[list[Input]], None] | None = None,
        status: Callable[[], dict[str, Any]] | None = None,
        step: Callable[[Input], list[EngineEvent]] | None = None,
        admit: Callable[[Input], None] | None = None,
    ) -> None:
        self.engine = engine
        self.record = record
        self.publish = publish
        self.clock = clock
        self.journal = journal
        self.status = status
        self.step = step or engine.step
        self.admit = admit  # raises MarginbotError to refuse a command before it is journaled

    def _require_account(self, name: str) -> None:
        if name not in self.engine.desks:
            raise MarginbotError(
                f"no account named {name!r}; accounts: {', '.join(self.engine.desks)}"
            )

    def handle(self, raw: bytes) -> dict[str, Any]:
        """Decode, record, apply; the reply says what happened or what was wrong."""
        reply: dict[str, Any] = {"id": correlation_id(raw)}
        try:
            request = decode(raw)
            if isinstance(request, QueryJson):
                reply.update(ok=True, state=state_json(self.engine, request.account))
                if self.status is not None:
                    reply["daemon"] = self.status()
                return reply
            self._require_account(request.account)
            ts = self.clock()
            command = request.command(ts)
        except MarginbotError as exc:
            return {**reply, "ok": False, "error": str(exc)}
        try:
            if self.admit is not None:
                self.admit(command)  # e.g. no order on a price older than the feed's limit
            if self.journal is not None:
                self.journal([command])  # committed before the engine applies it
        except MarginbotError as exc:
            return {**reply, "ok": False, "error": str(exc)}
        if self.record is not None:
            self.record({"t": "command", "ts": ts, "data": orjson.loads(raw)})
        unchanged = self._unchanged(command)
        try:
            events = self.step(command)
        except MarginbotError as exc:
            return {**reply, "ok": False, "error": str(exc)}
        self.publish(events)
        refused = [e for e in events if isinstance(e, OrderRejected | CommandRefused)]
        reply.update(ok=not refused, events=[event_json(e) for e in events])
        if refused:
            reply["error"] = refused[0].reason
        elif unchanged:
            reply["unchanged"] = True
        return reply

    def _unchanged(self, command: Input) -> bool:
        """A setting asked for that the symbol already has: applied all the same (the journal
        and a replay see the command), but a reply can say that nothing changed."""
        if not isinstance(command, SetLeverage | SetMarginMode):
            return False
        desk = self.engine.desks.get(command.account)
        if desk is None or command.symbol not in desk.account.instruments:
            return False
        current = desk.account.settings(command.symbol)
        if isinstance(command, SetLeverage):
            return current.leverage == command.leverage
        return current.margin_mode is command.margin_mode
