"""Execution against exchange testnets: mirror orders through ccxt, reconcile the ledger."""
