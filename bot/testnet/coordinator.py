"""The daemon's testnet side: each `execution = "testnet"` account's orders, cancellations and
settings go to the venue in the background, and its books are reconciled with the ledger after
each answer or fill and on a timer. Results come back as events through `publish`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

from bot.aio import wait_event
from bot.config import Config
from bot.core.engine_events import OrderAccepted, OrderCanceled, OrderFilled, SettingChanged
from bot.core.events import LeverageChanged, MarginModeChanged
from bot.core.kernel import Kernel
from bot.core.ledger.figures import AccountFigures
from bot.testnet.credentials import load_credentials
from bot.testnet.events import MirrorFailed, OrderMirrored

if TYPE_CHECKING:
    from bot.testnet.mirror import TestnetMirror


def build_mirrors(config: Config) -> dict[str, TestnetMirror]:
    """One mirror per testnet account; refuses at once when credentials are missing."""
    testnet = [a for a in config.accounts if a.execution == "testnet"]
    if not testnet:
        return {}  # ccxt takes seconds to import: only when an account needs it
    from bot.testnet.mirror import VENUES, TestnetMirror  # noqa: PLC0415 — slow import

    return {
        a.name: TestnetMirror(
            a.name,
            a.venue,
            VENUES[a.venue][0](
                load_credentials(a.name, a.secrets_file, needs_passphrase=a.venue == "okx"),
                a.exchange_url,
            ),
        )
        for a in testnet
    }


class TestnetCoordinator:
    def __init__(
        self,
        config: Config,
        mirrors: dict[str, TestnetMirror],
        publish: Callable[[list[Any]], None],
        out: TextIO,
    ) -> None:
        self.mirrors = mirrors
        self.publish = publish
        self.out = out
        self.kernel: Kernel | None = None
        self.intervals = {a.name: a.reconcile_interval_s for a in config.accounts}
        self.symbols: dict[str, set[str]] = {}  # venue -> the symbols its feeds carry
        for feed in config.feeds:
            self.symbols.setdefault(feed.venue, set()).update(s.upper() for s in feed.symbols)
        self.reconcile_now = {name: asyncio.Event() for name in mirrors}
        self.background: set[asyncio.Task[None]] = set()
        self._mirrored: set[str] = set()
        self._pending: set[str] = set()  # mirrored orders the venue has not answered yet

    def on_event(self, event: object) -> None:
        """Send a testnet account's orders and cancellations to the venue, in the background."""
        account = getattr(event, "account", None)
        mirror = self.mirrors.get(account) if isinstance(account, str) else None
        kernel = self.kernel
        if mirror is None or kernel is None:
            return
        if isinstance(event, OrderAccepted):
            order = kernel.order(mirror.account, event.order_id)
            if order is None:
                return
            request = order.request
            position = kernel.position(mirror.account, request.symbol, request.slot)
            self._mirrored.add(event.order_id)
            self._pending.add(event.order_id)
            settings = kernel.account(mirror.account).settings(request.symbol)
            self._spawn(
                mirror.place(
                    event.order_id,
                    request,
                    position.qty if position is not None else None,
                    settings,
                )
            )
        elif isinstance(event, OrderCanceled) and event.order_id in self._mirrored:
            self._spawn(mirror.cancel(event.order_id, event.symbol))
        elif isinstance(event, SettingChanged) and isinstance(
            event.change, LeverageChanged | MarginModeChanged
        ):
            account = kernel.account(mirror.account)
            symbols = self.symbols.get(mirror.venue, set()) | {event.change.symbol}
            modes = {s: account.settings(s).margin_mode for s in symbols}
            settings = account.settings(event.change.symbol)
            self._spawn(mirror.setting(event.change, modes, settings))
        elif isinstance(event, OrderMirrored | MirrorFailed):
            # The venue has answered: now its books can be compared with ours.
            self._pending.discard(event.order_id)
            self.reconcile_now[mirror.account].set()
        elif isinstance(event, OrderFilled) and event.order_id not in self._pending:
            self.reconcile_now[mirror.account].set()

    def _spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            result = await work
            self.publish(result if isinstance(result, list) else [result])

        task = asyncio.get_running_loop().create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _reconcile_loop(self, name: str) -> None:
        kernel = self.kernel
        assert kernel is not None
        mirror = self.mirrors[name]

        def figures() -> AccountFigures:
            return kernel.figures(name)

        while True:
            await wait_event(self.reconcile_now[name], self.intervals[name])
            self.reconcile_now[name].clear()
            await asyncio.sleep(0.2)  # let the venue book the fill we just made
            self.publish(list(await mirror.reconcile(figures)))

    async def start(self, kernel: Kernel) -> list[asyncio.Task[None]]:
        """Connect each mirror (before any command or price can arrive) and start reconciling."""
        self.kernel = kernel
        tasks: list[asyncio.Task[None]] = []
        if not self.mirrors:
            return tasks
        from bot.testnet.errors import exchange_error  # noqa: PLC0415 — slow import

        for name, mirror in self.mirrors.items():
            try:
                await mirror.start()
            except Exception as exc:
                self.out.write(f"[{name}] testnet unavailable: {exchange_error(exc)}\n")
                continue
            tasks.append(asyncio.create_task(self._reconcile_loop(name), name=f"reconcile-{name}"))
        return tasks

    async def close(self) -> None:
        for mirror in self.mirrors.values():
            await mirror.close()
