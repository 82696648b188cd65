"""Exchange error answers → marginbot errors, whatever class ccxt chose.

ccxt picks exception classes by URL, so against a local endpoint (or a demo host it does not
know) the venue's code arrives inside a generic ExchangeError's message. We read the code from
the answer itself: Binance `{"code": -2019, "msg": ...}`, Bybit `{"retCode": 110007, ...}`.
"""

from __future__ import annotations

import re

import ccxt

from bot.errors import (
    InsufficientBalance,
    MarginbotError,
    PositionError,
    RateLimited,
    RuleViolation,
    TransientError,
    UnknownInstrument,
)

_CODE = re.compile(r'"(?:code|retCode)"\s*:\s*"?(-?\d+)"?')
_MESSAGE = re.compile(r'"(?:msg|retMsg)"\s*:\s*"([^"]*)"')
# OKX refuses an order inside a failed envelope (`"code": "1"`): the reason is per order.
_ORDER_CODE = re.compile(r'"sCode"\s*:\s*"(\d+)"')
_ORDER_MESSAGE = re.compile(r'"sMsg"\s*:\s*"([^"]*)"')
_CREDENTIALS = (
    "the exchange refused the API key or signature; "
    "check the credentials in the environment or secrets file"
)

BY_CODE: dict[int, tuple[type[MarginbotError], str]] = {
    -2019: (InsufficientBalance, "the exchange says the margin is insufficient"),
    110007: (InsufficientBalance, "the exchange says the available balance is insufficient"),
    -2022: (PositionError, "the exchange rejected a reduce-only order (it would not reduce)"),
    110017: (PositionError, "the exchange rejected a reduce-only order (it would not reduce)"),
    -1121: (UnknownInstrument, "the exchange does not list this symbol"),
    10001: (UnknownInstrument, "the exchange rejected the symbol or a parameter"),
    -1021: (
        TransientError,
        "the request's timestamp is outside the exchange's receive window; "
        "check this machine's clock (NTP)",
    ),
    10002: (
        TransientError,
        "the request's timestamp is outside the exchange's receive window; "
        "check this machine's clock (NTP)",
    ),
    -1003: (RateLimited, "the exchange's rate limit was hit; requests are slowed down"),
    10006: (RateLimited, "the exchange's rate limit was hit; requests are slowed down"),
    # OKX v5 (API docs, "Error Code"): order-level sCode and request-level code.
    51008: (InsufficientBalance, "the exchange says the margin is insufficient"),
    51169: (PositionError, "the exchange rejected a reduce-only order (no position to reduce)"),
    51001: (UnknownInstrument, "the exchange does not list this instrument"),
    50102: (
        TransientError,
        "the request's timestamp is outside the exchange's window; "
        "check this machine's clock (NTP)",
    ),
    50011: (RateLimited, "the exchange's rate limit was hit; requests are slowed down"),
    50111: (RuleViolation, _CREDENTIALS),
    50113: (RuleViolation, _CREDENTIALS),
    50105: (RuleViolation, _CREDENTIALS + " (OKX: the passphrase)"),
    50101: (
        RuleViolation,
        "the API key belongs to the other OKX environment (demo trading keys are separate)",
    ),
}


# Checked in order: ccxt's subclasses before their parents.
BY_CLASS: list[tuple[type[Exception] | tuple[type[Exception], ...], type[MarginbotError], str]] = [
    (
        (ccxt.RateLimitExceeded, ccxt.DDoSProtection),
        RateLimited,
        "the exchange's rate limit was hit; requests are slowed down",
    ),
    (
        ccxt.InvalidNonce,
        TransientError,
        "the request's timestamp was refused; check this machine's clock",
    ),
    (ccxt.InsufficientFunds, InsufficientBalance, "the exchange says the balance is insufficient"),
    (ccxt.BadSymbol, UnknownInstrument, "the exchange does not list this symbol"),
    (
        ccxt.AuthenticationError,
        RuleViolation,
        _CREDENTIALS,
    ),
]


def exchange_error(exc: Exception) -> MarginbotError:
    """The marginbot error for an exception raised by a ccxt call. Never includes credentials."""
    text = str(exc)
    match = _ORDER_CODE.search(text) or _CODE.search(text)
    if match is not None:
        code = int(match.group(1))
        message = (_ORDER_MESSAGE if match.re is _ORDER_CODE else _MESSAGE).search(text)
        detail = f" ({code}: {message.group(1)})" if message else f" ({code})"
        if code in BY_CODE:
            kind, sentence = BY_CODE[code]
            return kind(sentence + detail)
        return RuleViolation(f"the exchange refused the request{detail}")
    for classes, kind, sentence in BY_CLASS:
        if isinstance(exc, classes):
            return kind(sentence)
    if isinstance(exc, ccxt.NetworkError):
        return TransientError(
            f"the exchange could not be reached: {type(exc).__name__}: {_words(text)}"
        )
    if isinstance(exc, ccxt.InvalidOrder):
        return RuleViolation(f"ccxt refused the order before sending it: {text[:200]}")
    return RuleViolation(f"the exchange call failed: {type(exc).__name__}: {_words(text)}")


_URL = re.compile(r"https?://[^\s?]+(\?\S*)?")


def _words(text: str) -> str:
    """What ccxt said, without query strings (a signed request's holds its signature)."""
    return _URL.sub(lambda m: m.group(0).split("?", 1)[0], text)[:300]
