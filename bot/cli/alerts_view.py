"""`marginbot alerts`: follow the alerts on the broker, as a trader at a terminal would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO

import aiomqtt
import orjson
from rich.live import Live
from rich.table import Table

SEVERITY_MARK = {"critical": "!!", "warning": "! ", "info": "  "}


@dataclass
class AlertsOptions:
    host: str
    port: int
    prefix: str
    username: str | None
    password: str | None
    as_json: bool
    duration_s: float | None


def line(topic: str, payload: dict[str, Any]) -> str:
    if topic.endswith("/status"):
        return (
            f"   {payload.get('local_time', '')[11:19]:<8}  {topic.split('/')[-2]:<12} "
            f"status {payload.get('state')}"
        )
    severity = str(payload.get("severity", "info"))
    when = str(payload.get("exchange_time") or payload.get("local_time") or "")[11:19]
    return (
        f"{SEVERITY_MARK.get(severity, '  ')} {when:<8}  {payload.get('account') or '-':<12} "
        f"{payload.get('kind', '?'):<22} {payload.get('message', '')}"
    )


class LiveTable:
    """The most recent alerts as a table that redraws in place (rich), newest at the bottom."""

    STYLES: ClassVar[dict[str, str]] = {"critical": "bold red", "warning": "yellow", "info": "dim"}

    def __init__(self, rows: int = 25) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.limit = rows
        self.live = Live(self.render(), auto_refresh=False)

    def add(self, topic: str, payload: dict[str, Any]) -> None:
        if topic.endswith("/status"):
            row = (
                "info",
                str(payload.get("local_time", ""))[11:19],
                topic.split("/")[-2],
                "status",
                str(payload.get("state")),
            )
        else:
            row = (
                str(payload.get("severity", "info")),
                str(payload.get("exchange_time") or payload.get("local_time") or "")[11:19],
                str(payload.get("account") or "-"),
                str(payload.get("kind", "?")),
                str(payload.get("message", "")),
            )
        self.rows = [*self.rows, row][-self.limit :]
        self.live.update(self.render(), refresh=True)

    def render(self) -> Table:
        table = Table(title="marginbot alerts", expand=True)
        for column, width in (("time", 8), ("account", 12), ("kind", 22), ("message", None)):
            table.add_column(column, width=width, overflow="fold")
        for severity, *cells in self.rows:
            table.add_row(*cells, style=self.STYLES.get(severity, ""))
        return table


async def follow(options: AlertsOptions, out: TextIO) -> int:
    topics = [f"{options.prefix}/+/alert/#", f"{options.prefix}/+/status"]
    try:
        async with aiomqtt.Client(
            options.host,
            options.port,
            username=options.username,
            password=options.password,
            timeout=10,
        ) as client:
            for topic in topics:
                await client.subscribe(topic, qos=1)
            if not options.as_json:
                out.write(
                    f"following {options.prefix} alerts on {options.host}:{options.port} "
                    "(Ctrl-C to stop)\n"
                )
                out.flush()
            table = LiveTable() if out.isatty() and not options.as_json else None
            with contextlib.suppress(TimeoutError), table.live if table else nullcontext():
                async with asyncio.timeout(options.duration_s):
                    seen: set[str] = set()
                    async for message in client.messages:
                        raw = message.payload
                        text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                        alert_id = orjson.loads(text).get("id")
                        if alert_id is not None and alert_id in seen:
                            continue  # the same alert on another account's topic
                        if alert_id is not None:
                            seen.add(alert_id)
                        if options.as_json:
                            out.write(text + "\n")
                        elif table is not None:
                            table.add(str(message.topic), orjson.loads(text))
                        else:
                            out.write(line(str(message.topic), orjson.loads(text)) + "\n")
                        out.flush()
    except aiomqtt.MqttError as exc:
        sys.stderr.write(f"marginbot alerts: cannot follow {options.host}:{options.port}: {exc}\n")
        return 2
    return 0


def main_alerts(options: AlertsOptions) -> int:
    return asyncio.run(follow(options, sys.stdout))


def password_from(env: str | None) -> str | None:
    return os.environ.get(env) if env else None
