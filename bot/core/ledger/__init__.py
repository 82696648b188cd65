"""The ledger: accounts and positions as the exchange books them.

account.py         Account: wallet, positions, settings per symbol, fills, margin moves
positions.py       Position, fee schedules, symbol settings
position_index.py  the positions indexed for the ticks, and the engine's change stamps
cross_totals.py    exact running sums of the cross positions
margin/            the margin formulas per venue, as each exchange documents them
liquidation.py     liquidation and bankruptcy prices, the liquidation predicate
figures.py         what a trader reads: margin balance, ratios, liquidation prices
risk.py            the two figures the alert rules read at every tick, cached exactly
"""
