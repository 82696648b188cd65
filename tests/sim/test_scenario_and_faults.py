"""Scenario keyframes and fault plans: parsing, interpolation, and the errors users see."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.sim.faults import Fault, FaultPlan, load_faults
from bot.sim.scenario import load_scenario, scenario_from_dict
from tests.conftest import ROOT


def test_shipped_crash_scenario_has_last_lagging_mark_by_one_percent() -> None:
    crash = load_scenario(ROOT / "config/scenarios/crash.toml")
    ticks = {t.t_s: t for t in crash.ticks()}
    assert crash.duration_s == 170
    assert ticks[Decimal(0)].mark == ticks[Decimal(0)].last == Decimal(10000)
    mid = ticks[Decimal(70)]
    assert mid.mark == Decimal("9250.0")  # 10000 − 1500 × 60/120
    assert (mid.last - mid.mark) / mid.mark == pytest.approx(Decimal("0.01"), abs=Decimal("0.002"))
    end = ticks[Decimal(130)]
    assert (end.mark, end.last) == (Decimal(8500), Decimal(8585))
    assert ticks[Decimal(170)].last == Decimal(8500)
    assert len(ticks) == 170 * 4 + 1  # every 250 ms


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mark": [], "last": [{"at": 0, "price": "1"}]}, "needs at least one keyframe"),
        (
            {"mark": [{"at": 0}], "last": [{"at": 0, "price": "1"}]},
            "needs exactly 'at' and 'price'",
        ),
        (
            {
                "mark": [{"at": 5, "price": "1"}, {"at": 1, "price": "2"}],
                "last": [{"at": 0, "price": "1"}],
            },
            "increasing 'at'",
        ),
        ({"mark": [{"at": 0, "price": "-1"}], "last": [{"at": 0, "price": "1"}]}, "price > 0"),
        (
            {"tick_ms": 0, "mark": [{"at": 0, "price": "1"}], "last": [{"at": 0, "price": "1"}]},
            "tick_ms",
        ),
        ({"speed": 2}, "unknown key 'speed'"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scenario_from_dict(raw, "test.toml")


def test_fault_plan_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(
        '[[fault]]\naction = "stall"\nconnection = 2\nafter_s = 1.5\n'
        '[[fault]]\naction = "refuse_429"\nvenue = "bybit"\n'
    )
    plan = load_faults(path)
    assert plan == FaultPlan(
        (Fault("stall", connection=2, after_s=1.5), Fault("refuse_429", venue="bybit"))
    )
    assert plan.refuses("bybit", 7) is not None
    assert plan.refuses("binance", 1) is None
    assert [f.action for f in plan.for_connection("binance", 2)] == ["stall"]
    path.write_text('[[fault]]\naction = "explode"\n')
    with pytest.raises(ConfigError, match="fault action 'explode'"):
        load_faults(path)
