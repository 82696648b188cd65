"""Shortcuts that make a tick cheap, kept apart from the domain code that must stay obvious.

    bands.py        the arithmetic of quiet price bands: the prices at which nothing can happen
                    (no trigger reached, no liquidation possible, no margin-ratio level crossed)
    quiet_ticks.py  the engine's: a mark or a last price inside its symbol's band only records
                    the price (QuietTicks, one per engine)
    calm_rules.py   the alert rules': quiet evaluations remembered, calm holders and symbols
                    skipped (CalmRules, one per rules object)

Every shortcut holds per-engine or per-rules state, never module state, and is checked by
differential tests: with it and without it (tests/core/in_full.py), the same outputs
(tests/core/test_bands.py, tests/core/test_rules.py, tests/test_replay_golden.py).
"""
