"""`marginbot doctor`: can this machine reach every venue a configuration names?

For a user with internet access (or a simulator): each websocket endpoint is opened for a few
seconds, REST time and instruments are fetched, and, where a testnet account has credentials,
the private endpoints are read (balance, positions: nothing is ever sent that changes the
account). Each check prints what worked, or what did not in the venue's own words. With
`--record DIR` everything received is kept as a session file, which `marginbot replay` reads:
a user's report becomes a replay test.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot import __version__
from bot.config import AccountConfig, Config, config_digest
from bot.core.feed_events import FeedBackoff, FeedDisconnected, FeedEvent
from bot.core.market import MarketEvent
from bot.errors import ConfigError, MarginbotError
from bot.feeds.client import FeedClient, FeedSettings
from bot.session.events_out import kind_of
from bot.session.format import SessionHeader
from bot.session.io import RotatingRecorder
from bot.venues.spec import SPECS, FeedRoute

SAMPLE_CHARS = 160  # of a venue's reply, shown when it sent no data


@dataclass(frozen=True, slots=True)
class Check:
    venue: str
    what: str
    ok: bool
    detail: str


class _Capture:
    """Passes records on to the session file, keeping the first frames the venue sent."""

    def __init__(self, recorder: RotatingRecorder | None) -> None:
        self.recorder = recorder
        self.first_frames: list[str] = []

    def write(self, record: dict[str, Any]) -> None:
        if record.get("t") == "recv" and len(self.first_frames) < 3:
            self.first_frames.append(str(record.get("data", ""))[:SAMPLE_CHARS])
        if self.recorder is not None:
            self.recorder.write(record)


async def check_stream(
    route: FeedRoute, seconds: float, recorder: RotatingRecorder | None
) -> Check:
    """Open one endpoint for `seconds` and say what came of it."""
    kinds: Counter[str] = Counter()
    troubles: list[str] = []

    def sink(events: list[MarketEvent | FeedEvent]) -> None:
        for event in events:
            if isinstance(event, FeedBackoff | FeedDisconnected):
                troubles.append(event.reason)
            elif not kind_of(type(event)).startswith("feed_"):
                kinds[kind_of(type(event))] += 1

    capture = _Capture(recorder)
    client = FeedClient(
        SPECS[route.venue],
        route,
        sink,
        recorder=capture,
        settings=FeedSettings(stale_after_s=seconds + 5, open_timeout_s=min(seconds, 10.0)),
    )
    task = asyncio.create_task(client.run())
    await asyncio.sleep(seconds)
    client.stop()
    await asyncio.wait_for(task, 10)
    where = route.url.split("?", 1)[0]
    if kinds:
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        return Check(route.venue, f"stream {route.label}", True, f"{where}: {counted}")
    if client.stats.connects == 0:
        reason = next((t for t in troubles if t != "stopped"), "no answer")
        return Check(
            route.venue, f"stream {route.label}", False, f"{where}: cannot connect: {reason}"
        )
    said = f"; the venue said: {capture.first_frames[0]}" if capture.first_frames else ""
    return Check(
        route.venue,
        f"stream {route.label}",
        False,
        f"{where}: connected, but no market data in {seconds:g} s "
        f"({client.stats.frames} frames){said}",
    )


def _rest_base(config: Config, network: str, account: AccountConfig | None) -> str | None:
    if account is not None and account.exchange_url:
        return account.exchange_url
    if network == "sim":
        return config.sim.base_url.replace("ws://", "http://").replace("wss://", "https://")
    return None


async def _call(
    venue: str, what: str, exchange: Any, call: Any, recorder: RotatingRecorder | None, signed: bool
) -> tuple[Check | None, Any]:
    """Run one ccxt call, recording its answer; (a failed check, or None; the result)."""
    from bot.testnet.errors import exchange_error  # noqa: PLC0415 — ccxt is slow to import

    started = time.monotonic()
    try:
        result = await call
    except Exception as exc:
        reason = exc if isinstance(exc, MarginbotError) else exchange_error(exc)
        return Check(venue, what, False, str(reason)), None
    finally:
        if recorder is not None and exchange.last_request_url:
            url = str(exchange.last_request_url)
            recorder.write(
                {
                    "t": "http",
                    "conn": f"{venue}.rest",
                    "ts": time.time_ns(),
                    "method": "GET",
                    # A signed request's query holds its signature: never kept.
                    "url": url.split("?", 1)[0] if signed else url,
                    "status": 200 if exchange.last_http_response is not None else 0,
                    "data": exchange.last_http_response or "",
                }
            )
    took = (time.monotonic() - started) * 1000
    return None, (result, took)


async def check_rest(
    config: Config, venue: str, network: str, symbols: list[str], recorder: RotatingRecorder | None
) -> list[Check]:
    from bot.testnet.credentials import load_credentials  # noqa: PLC0415
    from bot.testnet.mirror import public_exchange  # noqa: PLC0415 — ccxt is slow to import

    account = next(
        (a for a in config.accounts if a.venue == venue and a.execution == "testnet"), None
    )
    credentials = None
    if account is not None and network != "mainnet":
        try:
            credentials = load_credentials(
                account.name, account.secrets_file, needs_passphrase=account.venue == "okx"
            )
        except ConfigError as exc:
            return [Check(venue, "credentials", False, str(exc))]
    exchange = public_exchange(venue, _rest_base(config, network, account), network, credentials)
    checks: list[Check] = []
    try:
        failed, answer = await _call(
            venue, "REST time", exchange, exchange.fetch_time(), recorder, False
        )
        if failed is not None:
            return [failed]
        server_ms, took = answer
        skew = server_ms - time.time() * 1000 if server_ms else 0
        checks.append(
            Check(
                venue, "REST time", True, f"answered in {took:.0f} ms, clock offset {skew:+.0f} ms"
            )
        )
        failed, answer = await _call(
            venue, "instruments", exchange, exchange.load_markets(), recorder, False
        )
        if failed is not None:
            return [*checks, failed]
        markets, _ = answer
        listed = {m["id"] for m in markets.values() if m.get("swap") and m.get("linear")}
        missing = [s for s in symbols if s not in listed]
        checks.append(
            Check(
                venue,
                "instruments",
                not missing,
                f"{len(listed)} linear perpetuals"
                + (
                    f"; not listed: {', '.join(missing)}"
                    if missing
                    else f", {', '.join(symbols)} among them"
                ),
            )
        )
        if credentials is not None and account is not None:
            for what, call in (
                ("private: balance", exchange.fetch_balance()),
                ("private: positions", exchange.fetch_positions()),
            ):
                failed, answer = await _call(venue, what, exchange, call, recorder, True)
                if failed is not None:
                    checks.append(failed)
                    continue
                checks.append(Check(venue, what, True, f"read for account {account.name}"))
        elif account is None:
            checks.append(Check(venue, "private", True, "skipped: no testnet account"))
    finally:
        await exchange.close()
    return checks


async def run_doctor(
    config: Config, config_path: Path, seconds: float, record_dir: Path | None, out: TextIO
) -> int:
    recorder = None
    if record_dir is not None:
        header = SessionHeader(
            venues=tuple(dict.fromkeys(f.venue for f in config.feeds)),
            symbols=tuple(dict.fromkeys(s.upper() for f in config.feeds for s in f.symbols)),
            start_time_ns=time.time_ns(),
            marginbot_version=__version__,
            config_digest=config_digest(config_path),
            source={"recorded_by": "marginbot doctor"},
        )
        recorder = RotatingRecorder(record_dir, header, 64 * 2**20, True)
    checks: list[Check] = []
    try:
        for feed in config.feeds:
            routes = feed.routes(config.sim.base_url)
            out.write(
                f"{feed.venue} ({feed.network}): {len(routes)} stream endpoint(s), "
                f"{seconds:g} s each\n"
            )
            out.flush()
            streams = await asyncio.gather(*(check_stream(r, seconds, recorder) for r in routes))
            checks += streams
            symbols = [s.upper() for s in feed.symbols]
            checks += await check_rest(config, feed.venue, feed.network, symbols, recorder)
    finally:
        recorded = recorder.path if recorder is not None else None
        if recorder is not None:
            recorder.close()
    width = max(len(c.what) for c in checks)
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        out.write(f"  {mark} {check.venue:<8} {check.what:<{width}}  {check.detail}\n")
    failed = sum(not c.ok for c in checks)
    out.write(
        f"{len(checks) - failed} of {len(checks)} checks passed"
        + (f"; session recorded in {recorded}" if recorded is not None else "")
        + "\n"
    )
    return 0 if failed == 0 else 1
