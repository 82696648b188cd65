"""Binance USDⓈ-M futures."""
