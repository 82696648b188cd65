"""Shared helpers: timing and the one-JSON-line-per-figure output."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.logging import configure

# stdout carries only the figures; the components' logs go to stderr, warnings and worse.
configure(stream=sys.stderr, level="warning")


def median_seconds(run: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cpu() -> str:
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def figure(name: str, value: float, unit: str, **parameters: Any) -> dict[str, Any]:
    line = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "parameters": parameters,
        "python": platform.python_version(),
        "cpu": cpu(),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    return line


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    import resource  # noqa: PLC0415 — POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency_figures(
    prefix: str, latencies: list[float], target_p99_ms: float | None = None, **parameters: Any
) -> None:
    """p50, p99 (against a target when there is one) and max of latencies in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    figure(f"{prefix}_p50", statistics.median(ordered), "ms", **parameters)
    if target_p99_ms is None:
        figure(f"{prefix}_p99", p99, "ms", **parameters)
    else:
        figure(f"{prefix}_p99", p99, "ms", **parameters, target=target_p99_ms,
               result=verdict(p99 <= target_p99_ms))  # fmt: skip
    figure(f"{prefix}_max", ordered[-1], "ms", **parameters)
