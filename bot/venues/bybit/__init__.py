"""Bybit v5 linear (USDT perpetual)."""
