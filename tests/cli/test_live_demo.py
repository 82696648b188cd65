"""`make demo` in CI mode: no terminal, no broker on the configured port, to its end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bot.alerts.broker import free_port
from tests.conftest import ROOT


def test_demo_runs_to_its_summary_without_a_terminal(tmp_path: Path) -> None:
    config = (ROOT / "config/demo.toml").read_text()
    # Nothing listens on this port: the demo must start its own private broker.
    config = config.replace("port = 1883", f"port = {free_port()}")
    config = config.replace('"logs/', f'"{tmp_path}/')
    path = tmp_path / "demo.toml"
    path.write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "demo", "--config", str(path), "--speed", "4"],
        cwd=ROOT,
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert "a private Mosquitto runs on 127.0.0.1:" in out
    # The page's address, while it runs (8050, or a free port when another demo holds it).
    assert re.search(r"web view: open http://127\.0\.0\.1:\d+/ in a browser", out)
    summary = out[out.index("What happened:") :]
    assert "isolated  was liquidated at mark" in summary
    assert "cross     survived: equity" in summary
    # The trader's phone saw the divergence and the liquidation through the broker.
    assert "mqtt → marginbot/isolated/alert/mark_last_divergence" in out
    assert "mqtt → marginbot/isolated/alert/liquidated" in out
    assert f"the session is recorded in {tmp_path}/sessions/" in summary
    # The isolated account keeps the other half of its money, less the opening fee.
    kept = summary.split("keeps ")[1].split(" of its")[0]
    assert 990 < float(kept.replace(",", "")) < 1000
