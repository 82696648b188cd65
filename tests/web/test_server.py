"""The web view's HTTP side, as a browser and a hostile client meet it (no browser here)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.broker import free_port
from bot.config import load_config
from bot.core.ledger.figures import account_figures
from bot.daemon import Daemon
from bot.display import price
from bot.web import server
from tests.web.conftest import web_config


async def _get(url: str, **headers: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        return answer.status, await answer.read()


async def test_the_view_carries_both_accounts_positions_and_liquidation_prices(
    watched: Daemon,
) -> None:
    assert watched.web_url is not None
    assert watched.metrics_url is not None
    status, body = await _get(watched.web_url + "api/view")
    assert status == 200
    view = orjson.loads(body)
    assert [a["name"] for a in view["accounts"]] == ["iso", "crs"]
    iso = account_figures(watched.engine.desks["iso"].account).positions[0]
    [position] = view["accounts"][0]["positions"]
    assert position["liquidation"] == price(iso.liquidation_price)
    assert position["margin_mode"] == "isolated"
    assert position["distance_by_mark"].endswith(" %")
    assert position["distance_by_last"] != position["distance_by_mark"]  # last ≠ mark here
    assert view["points"]["binance:BTCUSDT"]
    # The page and its script come from the daemon itself, the chart library too.
    for path in ("", "static/app.js", "static/vendor/lightweight-charts.standalone.production.js"):
        status, body = await _get(watched.web_url + path)
        assert status == 200
        assert body
    # Separate addresses: metrics and the page do not share a server here.
    assert (await _get(watched.metrics_url + "/api/view"))[0] == 404
    assert (await _get(watched.web_url + "metrics"))[0] == 404


async def test_the_stream_sends_a_snapshot_then_only_what_changed(watched: Daemon) -> None:
    assert watched.web_url is not None
    events: list[tuple[str, dict[str, Any]]] = []
    async with (
        aiohttp.ClientSession() as http,
        http.get(watched.web_url + "api/stream") as answer,
    ):
        assert answer.headers["Content-Type"] == "text/event-stream"
        name = ""
        async for raw in answer.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, orjson.loads(line[6:])))
                if len(events) == 4:
                    break
    assert [name for name, _ in events] == ["snapshot", "update", "update", "update"]
    snapshot = events[0][1]
    seqs = [document["seq"] for _, document in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4
    newest = snapshot["points"]["binance:BTCUSDT"][-1][0]
    for _, update in events[1:]:
        for row in update["points"].get("binance:BTCUSDT", []):
            assert row[0] >= newest  # the newest second again at most, never the history
            newest = row[0]


async def test_requests_for_another_host_or_method_or_file_are_refused(watched: Daemon) -> None:
    assert watched.web_url is not None
    url = watched.web_url
    # A web page the trader visits, through a DNS name rebound to 127.0.0.1:
    assert (await _get(url + "api/view", Host="evil.example"))[0] == 421
    assert (await _get(url + "api/view", Host="localhost"))[0] == 200
    async with aiohttp.ClientSession() as http, http.post(url + "api/view", data=b"x") as answer:
        assert answer.status == 405
    for path in ("static/../server.py", "static/%2e%2e/server.py", "static/vendor", "nope"):
        status, body = await _get(url + path)
        assert status in (403, 404), (path, status)
        assert b"import" not in body
    status, headers = 0, {}
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        status, headers = answer.status, dict(answer.headers)
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in headers["Content-Security-Policy"]


async def test_viewers_past_the_bound_are_told_to_come_back(
    watched: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert watched.web_url is not None
    monkeypatch.setattr(server, "MAX_VIEWERS", 2)
    async with aiohttp.ClientSession() as http:
        first = await http.get(watched.web_url + "api/stream")
        second = await http.get(watched.web_url + "api/stream")
        assert (first.status, second.status) == (200, 200)
        status, body = await _get(watched.web_url + "api/stream")
        assert status == 503
        assert b"try again later" in body
        first.close()
        second.close()
    # The two that left free their places.
    for _ in range(50):
        if (await _get(watched.web_url + "api/view"))[0] == 200 and watched_viewers(watched) == 0:
            break
        await asyncio.sleep(0.1)
    assert watched_viewers(watched) == 0


def watched_viewers(daemon: Daemon) -> int:
    assert daemon.http is not None
    return daemon.http.viewers


ALPHABET = st.characters(codec="ascii", exclude_characters="#?\r\n ")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(ALPHABET, max_size=80), query=st.text(ALPHABET, max_size=40))
async def test_no_request_breaks_the_server(watched: Daemon, path: str, query: str) -> None:
    assert watched.web_url is not None
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(
                f"{watched.web_url}{path}?{query}", timeout=aiohttp.ClientTimeout(5)
            ) as answer:
                assert answer.status < 500 or answer.status == 503, (path, answer.status)
        except (aiohttp.InvalidURL, ValueError):
            return  # not a URL aiohttp will send
    assert (await _get(watched.web_url + "api/view"))[0] == 200


async def test_metrics_and_the_page_share_one_port_when_told_to(tmp_path: Path) -> None:
    port = free_port()
    path = web_config(tmp_path, "ws://127.0.0.1:9", web=f"port = {port}")
    path.write_text(path.read_text().replace("[metrics]\nport = 0", f"[metrics]\nport = {port}"))
    daemon = Daemon(load_config(path), path, io.StringIO())
    running = asyncio.create_task(daemon.run())
    try:
        while daemon.web_url is None:
            await asyncio.sleep(0.02)
        assert daemon.web_url == f"http://127.0.0.1:{port}/" == f"{daemon.metrics_url}/"
        for suffix in ("metrics", "healthz", "api/view", ""):
            status, _ = await _get(daemon.web_url + suffix)
            assert status in (200, 503), suffix  # /healthz: no feed answers on port 9
    finally:
        daemon.stop.set()
        await asyncio.wait_for(running, 30)
