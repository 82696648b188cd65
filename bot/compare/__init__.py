"""`marginbot compare`: the same position as isolated and as cross over a session.

- whatif.py: the comparison, one pass, one kernel, the accounts side by side (pure)
- report.py: the HTML report, charts made for finance, self-contained
- the JSON document's schema: docs/schemas/compare.schema.json (docs/compare.md)
"""
