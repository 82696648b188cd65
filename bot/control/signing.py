"""Signed commands: who may trade over MQTT (docs/commands.md, "Signing a command").

Anyone who can reach a broker can publish to it, so a command that arrives over MQTT must prove
its sender: it comes in an envelope

    {"ts": 1796480000000, "payload": "<the command JSON, as a string>", "sig": "<hex>"}

where `sig` is HMAC-SHA256, keyed with the account's command secret, over the bytes of
`"<ts>\\n<payload>"`. The daemon refuses, with a reply that says why: an envelope that is not
one, a command for an account without a secret, a wrong signature, a `ts` more than
`WINDOW_MS` from its clock, a command without an `id`, and an `id` it has already accepted
within the window (a replayed message). Pure: the clock is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping

import msgspec

from bot.errors import InputError

WINDOW_MS = 30_000
MAX_ENVELOPE_BYTES = 64 * 1024


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    ts: int
    payload: str
    sig: str


class _Addressed(msgspec.Struct):
    """What the gate reads of the command before the command decoder does."""

    account: str | None = None
    id: str | None = None


_envelope = msgspec.json.Decoder(Envelope)
_addressed = msgspec.json.Decoder(_Addressed)


def signature(secret: str, ts_ms: int, payload: str) -> str:
    message = f"{ts_ms}\n{payload}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, payload: str, ts_ms: int) -> bytes:
    """The envelope for `payload` (a command's JSON text), signed at `ts_ms`."""
    return msgspec.json.encode(Envelope(ts_ms, payload, signature(secret, ts_ms, payload)))


class CommandGate:
    """Opens signed envelopes; remembers accepted ids for the window to refuse replays."""

    def __init__(self, secrets: Mapping[str, str], window_ms: int = WINDOW_MS) -> None:
        self.secrets = dict(secrets)
        self.window_ms = window_ms
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()  # (account, id) -> ts

    def open(self, raw: bytes, now_ms: int) -> bytes:
        """The command inside `raw`, if its signature, time and id hold; else InputError."""
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise InputError(
                f"a command envelope of {len(raw)} bytes; at most {MAX_ENVELOPE_BYTES}"
            )
        try:
            envelope = _envelope.decode(raw)
            addressed = _addressed.decode(envelope.payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise InputError(
                'unsigned: MQTT commands come as {"ts", "payload", "sig"} '
                "(docs/commands.md, Signing a command)"
            ) from None
        account = addressed.account
        secret = self.secrets.get(account or "")
        if secret is None:
            raise InputError(
                f"account {account!r} takes no MQTT commands: it has no command secret"
            )
        expected = signature(secret, envelope.ts, envelope.payload)
        if not hmac.compare_digest(expected, envelope.sig):
            raise InputError("the signature does not match the payload and the account's secret")
        if abs(now_ms - envelope.ts) > self.window_ms:
            raise InputError(
                f"signed {abs(now_ms - envelope.ts) / 1000:.0f} s away from the daemon's clock; "
                f"at most {self.window_ms / 1000:g} s (check both clocks)"
            )
        if not addressed.id:
            raise InputError("a signed command needs an id, so that a replay can be refused")
        self._forget(now_ms)
        key = (account or "", addressed.id)
        if key in self._seen:
            raise InputError(f"command id {addressed.id!r} was already accepted: a replay")
        self._seen[key] = now_ms
        return envelope.payload.encode()

    def _forget(self, now_ms: int) -> None:
        horizon = now_ms - 2 * self.window_ms
        while self._seen:
            key, ts = next(iter(self._seen.items()))
            if ts >= horizon:
                break
            del self._seen[key]
