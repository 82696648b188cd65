"""Secrets never reach a log line, the terminal, an alert, a recording, the state or an error.

A daemon runs with an API key and secret the venue refuses and an MQTT password the broker
refuses: the two error paths most likely to echo a secret back. Every file and stream it
wrote is then searched for the secrets.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
from pathlib import Path

import structlog

from bot.logging import configure
from tests.conftest import MARGINBOT, ROOT, Broker, read_until, sim_process

API_KEY = "key-7f3a9c1e5b"
API_SECRET = "secret-d41d8cd98f00b204"
MQTT_PASSWORD = "pw-correct-horse-battery"


def test_the_log_processor_redacts_secret_keys(tmp_path: Path) -> None:
    log_file = tmp_path / "marginbot.jsonl"
    with (tmp_path / "terminal").open("w") as terminal:
        configure(stream=terminal, json=True, level="info", file=log_file)
        log = structlog.get_logger("marginbot.test")
        log.info("connecting", api_key=API_KEY, nested={"apiSecret": API_SECRET}, host="x")
        log.warning("mqtt_auth", password=MQTT_PASSWORD)
    for path in (log_file, tmp_path / "terminal"):
        text = path.read_text()
        assert '"event":"connecting"' in text
        assert '"api_key":"***"' in text
        for secret in (API_KEY, API_SECRET, MQTT_PASSWORD):
            assert secret not in text


def test_a_daemon_never_writes_its_secrets(tmp_path: Path) -> None:
    passwords = tmp_path / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwords), "trader", "the-right-one"],
        check=True,
        capture_output=True,
    )
    broker = Broker(tmp_path, extra=f"allow_anonymous false\npassword_file {passwords}")
    broker.start()
    sim, http = sim_process("--speed", "4", "--scenario", str(ROOT / "config/scenarios/crash.toml"))
    try:
        path = tmp_path / "daemon.toml"
        path.write_text(
            f'[sim]\nbase_url = "{http.replace("http://", "ws://")}"\n'
            '[[feeds]]\nvenue = "binance"\nnetwork = "sim"\nsymbols = ["BTCUSDT"]\n'
            '[[accounts]]\nname = "demo"\nvenue = "binance"\nwallet_balance = "10000"\n'
            f'execution = "testnet"\nexchange_url = "{http}"\n'
            f'[state]\ndirectory = "{tmp_path / "state"}"\n'
            f'[control]\nsocket = "{tmp_path / "mb.sock"}"\n'
            f'[mqtt]\nport = {broker.port}\nusername = "trader"\npassword_env = "MB_PW"\n'
            f'[alerts]\noutbox = "{tmp_path / "outbox.sqlite"}"\n'
            f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
            f'[logging]\nfile = "{tmp_path / "logs/marginbot.jsonl"}"\n[metrics]\nport = 0\n'
        )
        env = {
            **os.environ,
            "MARGINBOT_DEMO_API_KEY": API_KEY,
            "MARGINBOT_DEMO_API_SECRET": API_SECRET,
            "MB_PW": MQTT_PASSWORD,
        }
        daemon = subprocess.Popen(
            [MARGINBOT, "run", "--config", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        startup = read_until(daemon, " ready: ", 30)
        order = subprocess.run(
            [MARGINBOT, "order", "place", "--config", str(path), "--account", "demo",
             "--symbol", "BTCUSDT", "--side", "buy", "--type", "market", "--qty", "0.1"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        refused = read_until(daemon, "[demo] testnet refused", 30)
        daemon.send_signal(signal.SIGTERM)
        rest, errors = daemon.communicate(timeout=30)
    finally:
        sim.terminate()
        sim.wait(10)
        broker.stop()
    terminal = "".join(startup + refused) + rest
    # Both refusals were reported, in words, without the secret that was refused.
    assert "[demo] testnet refused" in terminal
    assert order.returncode == 0, order.stderr
    log_text = (tmp_path / "logs/marginbot.jsonl").read_text()
    assert "the broker refused the credentials" in log_text, log_text[-2000:]
    written = [terminal, errors, order.stdout, order.stderr, log_text]
    for file in tmp_path.rglob("*"):
        if file.is_file() and file != passwords and not file.name.startswith("mosquitto-"):
            data = file.read_bytes()
            written.append(
                (gzip.decompress(data) if file.suffix == ".gz" else data).decode("utf-8", "replace")
            )
    assert len(written) > 8  # the state, the outbox, the session and the log were searched
    for text in written:
        for secret in (API_KEY, API_SECRET, MQTT_PASSWORD):
            assert secret not in text
