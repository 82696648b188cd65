"""The pure core: margin math, the ledger and liquidation.

Nothing in this package touches asyncio, clocks, the network, files or logging. Functions take
values and return values, so replays are exact and tests are fast.
"""
