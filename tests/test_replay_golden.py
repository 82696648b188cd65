"""Optimisations keep the output byte for byte: the benchmark's full pipeline (parse, engine,
triggers, liquidation, alert rules) over the shipped session and a crash, digested.

If a change alters this digest, it changed what marginbot computes: that is a behaviour change
to justify in its own commit (and the digest to update there), never a side effect of speed.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from bench.workload import load_frames, run
from bot.session.events_out import event_line

DIGEST = "180b4cd7200c904f3791574215955362b60ddf982146f5d5e9c8e088d128d07d"


def test_the_pipeline_output_is_unchanged() -> None:
    connections, frames = load_frames(1, crash=True)
    digest = hashlib.sha256()
    kinds: Counter[str] = Counter()

    def out(item: object) -> None:
        digest.update(event_line(item))
        kinds[getattr(item, "kind", type(item).__name__)] += 1

    events = run(connections, frames, out)
    assert events == 59_697
    # What the digest covers: fills, triggers, a liquidation, funding and the price alerts.
    assert kinds["mark_last_divergence"] == 1
    assert kinds["liquidation_risk"] == 3
    assert kinds["PositionLiquidated"] == 1
    assert kinds["OrderTriggered"] == 1
    assert kinds["FundingSettled"] == 3
    assert digest.hexdigest() == DIGEST
