"""Turn msgspec's validation messages into ours: the key's path first, then the problem."""

from __future__ import annotations


def explain(message: str, root: str) -> str:
    """`Expected `str`, got `int` - at `$.feeds[0].venue`` → `feeds[0].venue: expected ...`."""
    text, separator, where = message.rpartition(" - at `")
    if not separator:
        return message
    key = where.removesuffix("`").removeprefix("$").lstrip(".") or root
    return f"{key}: {text[:1].lower()}{text[1:]}"
