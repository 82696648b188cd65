"""OKX v5 public (USDT swaps)."""
