"""A private Mosquitto broker on a free loopback port, for the demo and the tests.

It can be stopped and started again on the same port, with its persistence, as a restarted
production broker would be.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from bot.errors import MarginbotError

SEARCHED = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in SEARCHED if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections there (a broker, we assume)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class PrivateBroker:
    def __init__(self, directory: Path, extra: str = "", persistence: bool = False) -> None:
        self.port = free_port()
        self.config = directory / f"mosquitto-{self.port}.conf"
        # Alerts are small packets that must not wait: without it Nagle's algorithm holds a
        # message to a subscriber until the previous one is acknowledged (20 ms and more).
        lines = [
            "set_tcp_nodelay true",
            f"listener {self.port} 127.0.0.1",
            extra or "allow_anonymous true",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to its own user and could not read our private
            # files (passwords, certificates, persistence); keep ours.
            lines.append("user root")
        if persistence:
            lines += ["persistence true", f"persistence_location {directory}/"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 5.0) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise MarginbotError(
                "the mosquitto broker is not installed; install it (`make setup` does, "
                "as root on Debian) or point [mqtt] at a running broker"
            )
        self.process = subprocess.Popen(  # noqa: S603 — our own binary and config
            [binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not reachable("127.0.0.1", self.port, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise MarginbotError(f"mosquitto did not start on port {self.port}")
            time.sleep(0.02)

    def __enter__(self) -> PrivateBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
