"""The local control socket: one JSON command per line in, one JSON reply per line out."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog

from bot.errors import ConfigError

log = structlog.get_logger("marginbot.control")
MAX_LINE = 64 * 1024


class ControlServer:
    def __init__(self, path: Path, handle: Callable[[bytes], dict[str, Any]]) -> None:
        self.path = path
        self.handle = handle
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> ControlServer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not stat.S_ISSOCK(self.path.lstat().st_mode):
            raise ConfigError(
                f"[control] socket: {self.path} exists and is not a socket; marginbot will not "
                "replace it: give another path"
            )
        if self.path.exists():
            try:
                _, writer = await asyncio.open_unix_connection(str(self.path))
            except OSError:
                self.path.unlink()  # a socket left by a killed daemon
            else:
                writer.close()
                raise ConfigError(
                    f"another marginbot answers on {self.path}; stop it, or give this one "
                    "another [control] socket"
                )
        self._server = await asyncio.start_unix_server(
            self._client, path=str(self.path), limit=MAX_LINE
        )
        self.path.chmod(0o600)  # commands move money: only this user may send them
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = self.handle(line.strip())
                except Exception as exc:  # a bug in a handler: this client is still answered
                    log.exception("control_command_failed", error=type(exc).__name__)
                    reply = {
                        "id": None,
                        "ok": False,
                        "error": f"internal error: {type(exc).__name__}",
                    }
                writer.write(orjson.dumps(reply) + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError) as exc:
            log.warning("control_client_error", error=str(exc))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def send(path: Path, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one command to a running daemon and return its reply."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_unix_connection(str(path), limit=2**22), timeout
    )
    try:
        writer.write(orjson.dumps(request) + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    reply: dict[str, Any] = orjson.loads(line)
    return reply
