"""`make bench`: every benchmark, one JSON line per figure, then a short table.

python -m bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MODULES = [
    "bench.replay",
    "bench.scale",
    "bench.tick_to_alert",
    "bench.startup",
    "bench.triggers",
    "bench.alert_delivery",
    "bench.whatif",
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    quick = parser.parse_args().quick
    figures = []
    failed = []
    for module in MODULES:
        done = subprocess.run(
            [sys.executable, "-m", module, *(["--quick"] if quick else [])],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode:
            failed.append(module)
        for line in done.stdout.splitlines():
            sys.stdout.write(line + "\n")
            figures.append(json.loads(line))
    sys.stdout.write(f"\n{'figure':<28} {'value':>14} {'unit':<10} target\n")
    for f in figures:
        target = f["parameters"].get("target")
        result = f["parameters"].get("result", "")
        goal = f"{result} ({target})" if target is not None else ""
        sys.stdout.write(f"{f['name']:<28} {f['value']:>14,.3f} {f['unit']:<10} {goal}\n")
    if figures:
        sys.stdout.write(f"python {figures[0]['python']} on {figures[0]['cpu']}\n")
    for module in failed:
        sys.stdout.write(f"{module} did not finish (see its errors above)\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
