"""The live web view (`[web]`): one read-only page of the running daemon, and the daemon's
HTTP server, which also answers Prometheus' /metrics and /healthz.

    history.py  what the page's chart and alert list need to remember (pure, bounded)
    view.py     the accounts and positions as the page shows them (pure)
    server.py   aiohttp: the page, its server-sent events, /metrics, /healthz
    static/     the page itself, and the vendored chart library with its licence
"""
