"""Alert rules: prices and engine events in, alerts out (pure, deterministic).

alert.py        Alert and Severity: what the rules say to the trader
settings.py     RuleSettings and RuleBook: thresholds, by account and symbol
price_rules.py  the rules that watch levels at every tick: mark-vs-last divergence near
                liquidation, and margin ratio levels (with hysteresis and cooldowns)
event_rules.py  one alert per engine event worth telling: liquidated, stop-loss and
                take-profit triggered and filled, orders rejected, funding, feed health
"""
