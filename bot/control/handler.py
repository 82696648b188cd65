"""One place where a command from anywhere (CLI socket, MQTT, replay) meets the engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from bot.calculator import figures_json
from bot.control.codec import QueryJson, correlation_id, decode
from bot.core.commands import SetLeverage, SetMarginMode
from bot.core.engine import Input
from bot.core.engine_events import CommandRefused, OrderRejected
from bot.core.kernel import Kernel, Step
from bot.core.values import fmt
from bot.errors import MarginbotError
from bot.session.events_out import event_json


def state_json(kernel: Kernel, account: str | None) -> dict[str, Any]:
    """Every account's figures at the current marks, and its open orders."""
    names = [account] if account else kernel.accounts()
    result: dict[str, Any] = {}
    for name in names:
        if not kernel.has_account(name):
            raise MarginbotError(
                f"no account named {name!r}; accounts: {', '.join(kernel.accounts())}"
            )
        orders = [
            {
                "order_id": o.id,
                "description": o.describe(),
                "status": str(o.status),
                "role": role,
                "trigger": fmt(o.trigger) if o.trigger is not None else None,
                "trigger_source": str(o.request.trigger_source)
                if o.request.type.triggered
                else None,
            }
            for o, role in kernel.open_orders(name)
        ]
        result[name] = {
            "venue": str(kernel.account(name).venue),
            **figures_json(kernel.figures(name)),
            "orders": orders,
        }
    return result


class CommandHandler:
    def __init__(
        self,
        kernel: Kernel,
        record: Callable[[dict[str, Any]], None] | None = None,
        apply: Callable[[Input], Step] | None = None,
        clock: Callable[[], int] = time.time_ns,
        journal: Callable[[list[Input]], None] | None = None,
        status: Callable[[], dict[str, Any]] | None = None,
        admit: Callable[[Input], None] | None = None,
    ) -> None:
        """`apply` steps the kernel and carries out the Step's effects (the daemon's); without
        it, the kernel alone is stepped, each command keyed by its number."""
        self.kernel = kernel
        self.record = record
        self.apply = apply or self._step_alone
        self.clock = clock
        self.journal = journal
        self.status = status
        self.admit = admit  # raises MarginbotError to refuse a command before it is journaled
        self._applied = 0

    def _step_alone(self, command: Input) -> Step:
        self._applied += 1
        return self.kernel.step(command, f"command.{self._applied}")

    def _require_account(self, name: str) -> None:
        if not self.kernel.has_account(name):
            raise MarginbotError(
                f"no account named {name!r}; accounts: {', '.join(self.kernel.accounts())}"
            )

    def handle(self, raw: bytes) -> dict[str, Any]:
        """Decode, record, apply; the reply says what happened or what was wrong."""
        reply: dict[str, Any] = {"id": correlation_id(raw)}
        try:
            request = decode(raw)
            if isinstance(request, QueryJson):
                reply.update(ok=True, state=state_json(self.kernel, request.account))
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
            step = self.apply(command)
        except MarginbotError as exc:
            return {**reply, "ok": False, "error": str(exc)}
        refused = [e for e in step.events if isinstance(e, OrderRejected | CommandRefused)]
        reply.update(ok=not refused, events=[event_json(e) for e in step.all_events()])
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
        if not self.kernel.has_account(command.account):
            return False
        account = self.kernel.account(command.account)
        if command.symbol not in account.instruments:
            return False
        current = account.settings(command.symbol)
        if isinstance(command, SetLeverage):
            return current.leverage == command.leverage
        return current.margin_mode is command.margin_mode
