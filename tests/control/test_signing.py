"""The command gate, pure: signatures, the time window, replayed ids, sizes."""

from __future__ import annotations

import json

import pytest

from bot.control.signing import MAX_ENVELOPE_BYTES, WINDOW_MS, CommandGate, sign, signature
from bot.errors import InputError

SECRET = "s" * 32
NOW = 1_796_481_112_623
QUERY = '{"id":"q1","cmd":"query","account":"iso"}'


def test_a_signed_command_opens_to_its_payload() -> None:
    gate = CommandGate({"iso": SECRET})
    assert gate.open(sign(SECRET, QUERY, NOW), NOW) == QUERY.encode()


def test_the_signature_covers_the_time_and_every_byte_of_the_payload() -> None:
    gate = CommandGate({"iso": SECRET})
    envelope = sign(SECRET, QUERY, NOW).replace(b"q1", b"q2")  # the payload changed
    with pytest.raises(InputError, match="signature does not match"):
        gate.open(envelope, NOW)
    moved = {"ts": NOW + 1, "payload": QUERY, "sig": signature(SECRET, NOW, QUERY)}
    with pytest.raises(InputError, match="signature does not match"):
        gate.open(json.dumps(moved).encode(), NOW)


@pytest.mark.parametrize("skew", [WINDOW_MS + 1, -(WINDOW_MS + 1)])
def test_a_command_signed_outside_the_window_is_refused(skew: int) -> None:
    gate = CommandGate({"iso": SECRET})
    with pytest.raises(InputError, match="away from the daemon's clock"):
        gate.open(sign(SECRET, QUERY, NOW - skew), NOW)


def test_an_id_is_accepted_once_within_the_window_and_forgotten_after() -> None:
    gate = CommandGate({"iso": SECRET})
    gate.open(sign(SECRET, QUERY, NOW), NOW)
    with pytest.raises(InputError, match="already accepted: a replay"):
        gate.open(sign(SECRET, QUERY, NOW + 10), NOW + 10)
    later = NOW + 3 * WINDOW_MS
    assert gate.open(sign(SECRET, QUERY, later), later) == QUERY.encode()
    assert len(gate._seen) == 1  # the old id was forgotten: memory stays bounded


def test_each_account_signs_with_its_own_secret() -> None:
    gate = CommandGate({"iso": SECRET, "cross": "c" * 32})
    payload = '{"id":"x","cmd":"query","account":"cross"}'
    with pytest.raises(InputError, match="signature does not match"):
        gate.open(sign(SECRET, payload, NOW), NOW)
    with pytest.raises(InputError, match="takes no MQTT commands"):
        gate.open(sign(SECRET, '{"id":"y","cmd":"query","account":"other"}', NOW), NOW)


def test_an_oversized_envelope_is_refused_before_it_is_parsed() -> None:
    gate = CommandGate({"iso": SECRET})
    with pytest.raises(InputError, match="at most"):
        gate.open(b"[" * (MAX_ENVELOPE_BYTES + 1), NOW)
