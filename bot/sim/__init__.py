"""The local exchange simulator: Binance USDⓈ-M and Bybit v5 wire protocols on loopback."""
