"""The benchmarks run (small sizes, no thresholds), so their code cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys


def test_every_benchmark_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = {line["name"] for line in lines}
    for expected in (
        "replay_throughput", "scale_throughput", "scale_peak_rss", "tick_to_alert_p99",
        "startup_to_subscribed", "import_time", "alert_delivery_p99",
    ):  # fmt: skip
        assert expected in names
    for line in lines:
        assert {"name", "value", "unit", "parameters", "python", "cpu"} <= set(line)
        assert line["value"] > 0
    assert "figure" in result.stdout  # the table
