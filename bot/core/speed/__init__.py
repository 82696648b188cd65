"""Shortcuts that make a tick cheap, kept apart from the domain code that must stay obvious.

    bands.py  quiet price bands: the prices at which nothing can happen (no trigger reached,
              no liquidation possible, no margin-ratio level crossed), so that a tick inside
              them only records its price

Every shortcut holds per-engine or per-rules state, never module state, and is checked by
differential tests: with it and without it, the same outputs (tests/core/test_bands.py).
"""
