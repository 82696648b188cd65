"""The benchmarks run (small sizes, no thresholds), so their code cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["bench.triggers", "bench.replay", "bench.alert_delivery"])
def test_benchmark_prints_its_figures(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines
    for line in lines:
        assert {"name", "value", "unit", "parameters", "python", "cpu"} <= set(line)
        assert line["value"] > 0
