"""Alerts over MQTT through real Mosquitto brokers started by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import aiomqtt
import jsonschema
import orjson
import trustme

import bot.alerts.publisher as publisher_module
from bot.alerts.outbox import Outbox
from bot.alerts.publisher import AccountPublisher
from bot.config import MqttConfig
from bot.core.alerting.alert import Alert, Severity
from tests.conftest import ROOT, Broker

SCHEMAS = {
    name: json.loads((ROOT / f"docs/schemas/{name}.schema.json").read_text())
    for name in ("alert", "status", "position")
}


async def stopped(*tasks: asyncio.Task[None]) -> None:
    """Cancel and await: a cancelled client must be gone before its broker stops."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def alert(number: int) -> Alert:
    return Alert(
        "mark_last_divergence",
        Severity.CRITICAL,
        1_700_000_000_000_000_000 + number,
        "iso",
        "BTCUSDT",
        f"alert number {number}",
        (("number", str(number)),),
    )


def test_outbox_keeps_order_survives_reopening_and_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, max_rows=3)
    for n in range(5):
        outbox.add("iso", f"id-{n}", "t", str(n).encode())
    assert outbox.dropped == 2  # the oldest two made room
    assert [p.message_id for p in outbox.pending("iso")] == ["id-2", "id-3", "id-4"]
    outbox.ack(outbox.pending("iso")[0].seq)
    outbox.close()
    reopened = Outbox(path)
    assert [p.payload for p in reopened.pending("iso")] == [b"3", b"4"]
    assert reopened.pending("cross") == []


class Subscriber:
    """Collects messages; a persistent session so a broker restart loses nothing for it."""

    def __init__(self, port: int, topic: str = "mb/#", client_id: str = "sub") -> None:
        self.port, self.topic, self.client_id = port, topic, client_id
        self.messages: list[tuple[str, dict]] = []

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", self.port, identifier=self.client_id, clean_session=False
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    async for message in client.messages:
                        self.messages.append((str(message.topic), orjson.loads(message.payload)))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    def alerts(self) -> list[dict]:
        return [m for t, m in self.messages if "/alert/" in t]

    async def until(self, count: int, timeout: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len({a["id"] for a in self.alerts()}) < count:
            numbers = [a["details"].get("number") for a in self.alerts()]
            assert asyncio.get_running_loop().time() < deadline, f"got {numbers}"
            await asyncio.sleep(0.05)


def publisher(tmp_path: Path, port: int, **mqtt: object) -> AccountPublisher:
    config = MqttConfig(port=port, prefix="mb", client_id="mbtest", **mqtt)  # type: ignore[arg-type]
    return AccountPublisher(config, "iso", Outbox(tmp_path / "outbox.sqlite"), 0)


async def test_alerts_and_status_arrive_valid_against_their_schemas(tmp_path, mosquitto) -> None:
    subscriber = Subscriber(mosquitto)
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)
    pub = publisher(tmp_path, mosquitto)
    running = asyncio.create_task(pub.run())
    for n in range(5):
        pub.enqueue(alert(n))
    await subscriber.until(5)
    await stopped(running, listening)
    alerts = subscriber.alerts()
    assert [a["details"]["number"] for a in alerts] == ["0", "1", "2", "3", "4"]
    for payload in alerts:
        jsonschema.validate(payload, SCHEMAS["alert"])
    topics = {t for t, _ in subscriber.messages}
    assert "mb/iso/alert/mark_last_divergence" in topics
    [status] = [m for t, m in subscriber.messages if t == "mb/iso/status"]
    jsonschema.validate(status, SCHEMAS["status"])
    assert status["state"] == "online"
    assert pub.outbox.depth() == 0


def rows_on_disk(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        count: int = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return count


async def test_delivered_rows_are_deleted_in_a_pause_or_by_the_batch(
    tmp_path, mosquitto, monkeypatch
) -> None:
    monkeypatch.setattr(publisher_module, "DELETE_AFTER_S", 30.0)  # no pause in this test
    monkeypatch.setattr(publisher_module, "DELETE_BATCH", 3)
    subscriber = Subscriber(mosquitto)
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)
    pub = publisher(tmp_path, mosquitto)
    running = asyncio.create_task(pub.run())
    for n in range(4):
        pub.enqueue(alert(n))
        await subscriber.until(n + 1)
    path = tmp_path / "outbox.sqlite"
    assert (pub.outbox.depth(), pub.outbox.delivered, rows_on_disk(path)) == (0, 1, 1)
    monkeypatch.setattr(publisher_module, "DELETE_AFTER_S", 0.001)
    pub.enqueue(alert(4))  # then a pause of a millisecond
    await subscriber.until(5)
    for _ in range(100):
        if rows_on_disk(path) == 0:
            break
        await asyncio.sleep(0.01)
    assert (pub.outbox.delivered, rows_on_disk(path)) == (0, 0)
    await stopped(running, listening)


async def test_a_failed_delete_does_not_stop_the_publisher(
    tmp_path, mosquitto, monkeypatch
) -> None:
    subscriber = Subscriber(mosquitto)
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)
    pub = publisher(tmp_path, mosquitto)

    def full_disk() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(pub.outbox, "delete_delivered", full_disk)
    running = asyncio.create_task(pub.run())
    for n in range(3):
        pub.enqueue(alert(n))
        await subscriber.until(n + 1)
        await asyncio.sleep(0.01)  # a pause: the delete is tried, and fails
    assert not running.done()
    assert (pub.outbox.depth(), pub.outbox.delivered) == (0, 3)  # noted, to go next time
    await stopped(running, listening)


async def test_broker_restart_loses_nothing_and_keeps_order(tmp_path) -> None:
    broker = Broker(tmp_path, persistence=True)
    broker.start()
    subscriber = Subscriber(broker.port, client_id="restart-sub")
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)
    pub = publisher(tmp_path, broker.port)
    running = asyncio.create_task(pub.run())
    produced = 0
    try:
        for _ in range(5):
            pub.enqueue(alert(produced))
            produced += 1
            await asyncio.sleep(0.1)
        broker.stop()  # killed while alerts are being produced ...
        for _ in range(20):
            pub.enqueue(alert(produced))
            produced += 1
            await asyncio.sleep(0.5)  # ... for 10 s
        broker.start()
        await subscriber.until(produced, timeout=40)
    finally:
        await stopped(running, listening)
        broker.stop()
    numbers = [int(a["details"]["number"]) for a in subscriber.alerts()]
    unique = list(dict.fromkeys(numbers))
    assert unique == list(range(produced))  # all 25, in order
    by_number: dict[int, set[str]] = {}
    for a in subscriber.alerts():
        by_number.setdefault(int(a["details"]["number"]), set()).add(a["id"])
    assert all(len(ids) == 1 for ids in by_number.values())  # a duplicate keeps its id


async def test_a_killed_process_pending_alerts_are_delivered_on_restart(
    tmp_path, mosquitto
) -> None:
    outbox_path = tmp_path / "outbox.sqlite"
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        from bot.alerts.outbox import Outbox
        from bot.alerts.publisher import AccountPublisher
        from bot.config import MqttConfig
        from bot.core.alerting.alert import Alert, Severity

        async def main():
            pub = AccountPublisher(MqttConfig(port=1, prefix="mb"), "iso",
                                   Outbox(__import__("pathlib").Path({str(outbox_path)!r})), 0)
            task = asyncio.create_task(pub.run())  # the broker is unreachable
            for n in range(6):
                pub.enqueue(Alert("liquidated", Severity.CRITICAL, n, "iso", "BTCUSDT",
                                  f"pending {{n}}", (("number", str(n)),)))
            print("queued", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "queued"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(5)
    subscriber = Subscriber(mosquitto)
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)
    restarted = AccountPublisher(
        MqttConfig(port=mosquitto, prefix="mb"), "iso", Outbox(outbox_path), 0
    )
    running = asyncio.create_task(restarted.run())
    await subscriber.until(6)
    await stopped(running, listening)
    assert [a["details"]["number"] for a in subscriber.alerts()] == [str(n) for n in range(6)]


async def test_wrong_password_and_unreachable_broker_queue_with_a_clear_error(tmp_path) -> None:
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    passwords = tmp_path / "passwords"
    subprocess.run(
        [passwd, "-c", "-b", str(passwords), "trader", "right"], check=True, capture_output=True
    )
    broker = Broker(tmp_path, extra=f"allow_anonymous false\npassword_file {passwords}")
    broker.start()
    try:
        os.environ["MB_TEST_MQTT_PASSWORD"] = "wrong"
        wrong = publisher(
            tmp_path, broker.port, username="trader", password_env="MB_TEST_MQTT_PASSWORD"
        )
        running = asyncio.create_task(wrong.run())
        wrong.enqueue(alert(1))
        async with asyncio.timeout(10):
            while wrong.stats.last_error is None:
                await asyncio.sleep(0.05)
        assert "refused the credentials" in wrong.stats.last_error
        assert "wrong" not in wrong.stats.last_error  # the password never appears
        assert not running.done()  # it keeps trying; the daemon keeps running
        assert wrong.outbox.depth() == 1  # the alert waits
        await stopped(running)
    finally:
        broker.stop()
        os.environ.pop("MB_TEST_MQTT_PASSWORD", None)
    unreachable = AccountPublisher(
        MqttConfig(port=1, prefix="mb"), "iso", Outbox(tmp_path / "other.sqlite"), 0
    )
    task = asyncio.create_task(unreachable.run())
    unreachable.enqueue(alert(2))
    async with asyncio.timeout(10):
        while unreachable.stats.last_error is None:
            await asyncio.sleep(0.05)
    assert not task.done()
    assert unreachable.outbox.depth() == 1
    await stopped(task)


async def test_tls_with_a_test_ca(tmp_path) -> None:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (
        tmp_path / "ca.pem",
        tmp_path / "server.pem",
        tmp_path / "server.key",
    )
    ca.cert_pem.write_to_path(str(ca_file))
    server.cert_chain_pems[0].write_to_path(str(cert_file))
    server.private_key_pem.write_to_path(str(key_file))
    broker = Broker(
        tmp_path,
        extra=f"allow_anonymous true\ncafile {ca_file}\ncertfile {cert_file}\nkeyfile {key_file}",
    )
    broker.start()
    try:
        pub = publisher(tmp_path, broker.port, tls_ca_file=str(ca_file))
        running = asyncio.create_task(pub.run())
        pub.enqueue(alert(7))
        async with asyncio.timeout(10):
            while pub.stats.published < 1:
                await asyncio.sleep(0.05)
        assert pub.stats.connected
        await stopped(running)
    finally:
        broker.stop()
