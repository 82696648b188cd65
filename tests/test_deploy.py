"""deploy/: the container config, the broker config, the systemd unit, the dashboard, the image."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import aiomqtt
import pytest
import yaml
from prometheus_client import generate_latest

from bot.alerts.broker import free_port, mosquitto_binary
from bot.config import load_config
from bot.daemon import Daemon
from bot.metrics import metrics_registry
from tests.conftest import MARGINBOT, ROOT

DEPLOY = ROOT / "deploy"


def test_the_container_config_is_valid_and_keeps_secrets_out() -> None:
    checked = subprocess.run(
        [MARGINBOT, "config", "check", str(DEPLOY / "marginbot.docker.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    config = load_config(DEPLOY / "marginbot.docker.toml")
    assert config.mqtt.password_env == "MARGINBOT_MQTT_PASSWORD"
    for path in (config.state.directory, config.alerts.outbox, config.recording.directory):
        assert path.startswith("/var/lib/marginbot/")  # the one writable volume


def test_the_dashboard_asks_only_for_metrics_the_daemon_serves(tmp_path: Path) -> None:
    text = (DEPLOY / "marginbot.docker.toml").read_text()
    text = text.replace("/var/lib/marginbot", str(tmp_path))
    path = tmp_path / "d.toml"
    path.write_text(text)
    daemon = Daemon(load_config(path), path, io.StringIO())
    daemon.event_counts[("binance", "mark_price")] = 1
    daemon.alert_counts["liquidated"] = 1
    served = generate_latest(metrics_registry(daemon)).decode()
    if daemon.state is not None:
        daemon.state.close()
    dashboard = json.loads((DEPLOY / "grafana/marginbot-dashboard.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"marginbot_\w+", target["expr"])
    }
    assert asked
    missing = [
        name for name in asked if f"\n{name}" not in served and f"# TYPE {name}" not in served
    ]
    assert not missing, served


async def test_the_broker_config_requires_a_password_and_alert_readers_cannot_command(
    tmp_path: Path,
) -> None:
    binary = mosquitto_binary()
    if binary is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto is not installed; `make test` installs it")
    port = free_port()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/data/", f"{tmp_path}/") + "user root\n"
    conf = conf.replace("/mosquitto/config/mosquitto.acl", str(DEPLOY / "mosquitto.acl"))
    (tmp_path / "mosquitto.conf").write_text(conf)
    passwords = tmp_path / "passwords"
    for number, user in enumerate(("marginbot", "trader", "alerts")):
        create = ["-c"] if number == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", str(passwords), user, f"{user}-pw"],
            check=True,
            capture_output=True,
        )
    broker = subprocess.Popen([binary, "-c", str(tmp_path / "mosquitto.conf")])

    def client(user: str) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", port, username=user, password=f"{user}-pw")

    try:
        await asyncio.sleep(0.5)
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port):
                pass
        async with client("marginbot") as daemon, client("alerts") as phone:
            await daemon.subscribe("marginbot/cmd", qos=1)
            await phone.subscribe("marginbot/#", qos=1)
            await asyncio.sleep(0.2)
            await phone.publish("marginbot/cmd", b"from an alert reader", qos=1)
            async with client("trader") as trader:
                await trader.publish("marginbot/cmd", b"from the trader", qos=1)
            await daemon.publish("marginbot/iso/alert/liquidated", b"alert", qos=1)
            await daemon.publish("marginbot/reply/r1", b"a reply", qos=1)
            commands, seen = [], []
            async with asyncio.timeout(3):
                async for message in daemon.messages:
                    commands.append(message.payload)
                    break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    async for message in phone.messages:
                        seen.append(str(message.topic))
        assert commands == [b"from the trader"]  # the alert reader's command never arrived
        assert seen == ["marginbot/iso/alert/liquidated"]  # no commands, no replies
    finally:
        broker.terminate()
        broker.wait(5)


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = (DEPLOY / "marginbot.service").read_text()
    unit = unit.replace("/opt/marginbot/.venv/bin/marginbot", MARGINBOT)
    path = tmp_path / "marginbot.service"
    path.write_text(unit)
    verified = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stderr
    for hardening in ("NoNewPrivileges=true", "ProtectSystem=strict", "Restart=on-failure"):
        assert hardening in unit


def test_the_image_builds_and_starts() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "info"], capture_output=True, check=False).returncode
    ):
        pytest.skip("no Docker daemon on this machine (docker info fails)")
    subprocess.run(
        [docker, "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "marginbot:test", str(ROOT)],
        check=True,
        timeout=900,
    )
    ran = subprocess.run(
        [
            docker,
            "run",
            "--rm",
            "marginbot:test",
            "config",
            "check",
            "/etc/marginbot/marginbot.toml",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "valid" in ran.stdout


def test_the_compose_file_wires_an_authenticated_broker_and_persistent_state() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"mosquitto", "sim", "marginbot"}
    broker = services["mosquitto"]
    assert "mosquitto_passwd" in broker["command"]
    assert "allow_anonymous false" in (DEPLOY / "mosquitto.conf").read_text()
    daemon = services["marginbot"]
    assert daemon["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "MARGINBOT_MQTT_PASSWORD" in daemon["environment"]
    assert daemon["read_only"] is True
    assert daemon["cap_drop"] == ["ALL"]
    assert "marginbot-state:/var/lib/marginbot" in daemon["volumes"]
    assert set(compose["volumes"]) == {"mosquitto-data", "marginbot-state"}
    assert all(
        port.startswith("127.0.0.1:") for s in services.values() for port in s.get("ports", [])
    )
