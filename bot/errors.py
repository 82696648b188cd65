"""One error tree for marginbot.

Every refusal says what was wrong and what to do about it. The class tells the caller whether
retrying can help::

    MarginbotError
    ├── InputError              bad input from a user or a file: fix the input, do not retry
    │   └── ConfigError         a configuration file or value is wrong
    ├── RuleViolation           the exchange would refuse this operation in the current state
    │   ├── ModeChangeRefused       margin or position mode change while exposure exists
    │   ├── LeverageRefused         leverage outside what the instrument or tier allows
    │   ├── MarginAdjustmentRefused adding/removing isolated margin refused
    │   ├── InsufficientBalance     not enough available balance
    │   ├── PositionError           a fill or command contradicts the position (size, side, mode)
    │   └── OrderRejected           a pre-trade check failed; `code` names which
    ├── UnknownInstrument       no instrument data for a symbol
    ├── StateError              the saved state cannot be recovered as it is
    └── TransientError          a retry later may succeed (network, rate limit)
        └── RateLimited         the venue asked us to slow down

Messages never contain secrets: callers pass amounts, symbols and field names, never credentials.
"""

from __future__ import annotations


class MarginbotError(Exception):
    """Root of every error marginbot raises on purpose."""


class InputError(MarginbotError):
    """Input from a user or file is malformed or nonsensical."""


class ConfigError(InputError):
    """A configuration value is missing or wrong."""


class RuleViolation(MarginbotError):
    """The operation breaks a rule the exchange enforces."""


class ModeChangeRefused(RuleViolation):
    """Margin mode or position mode cannot change while exposure exists."""


class LeverageRefused(RuleViolation):
    """Leverage is outside the allowed range for the instrument or the position's tier."""


class MarginAdjustmentRefused(RuleViolation):
    """Isolated margin cannot be added or removed as asked."""


class InsufficientBalance(RuleViolation):
    """The available balance does not cover what the operation needs."""


class StateError(MarginbotError):
    """The journal or snapshots cannot give back the exact state; nothing is guessed."""


class PositionError(RuleViolation):
    """A fill or command contradicts the current position."""


class OrderRejected(RuleViolation):
    """An order refused before it reaches the book, as the exchange would refuse it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownInstrument(MarginbotError):
    """No instrument specification is known for the symbol."""


class TransientError(MarginbotError):
    """A temporary failure; the same call may succeed later."""


class RateLimited(TransientError):
    """The venue asked us to slow down."""
