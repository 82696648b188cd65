"""marginbot: live paper trading of crypto perpetual futures with an exact margin ledger."""

__version__ = "0.1.0"
