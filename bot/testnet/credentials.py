"""API credentials: from the environment or a separate secrets file, never the main config.

Environment: `MARGINBOT_<ACCOUNT>_API_KEY` and `MARGINBOT_<ACCOUNT>_API_SECRET` (the account name
upper-cased, other characters as `_`), `MARGINBOT_<ACCOUNT>_API_PASSPHRASE` for OKX, whose API
keys have one, and `MARGINBOT_<ACCOUNT>_COMMAND_SECRET` for signed MQTT commands. Secrets file
(TOML, readable by its owner only):

    [isolated]
    api_key = "..."
    api_secret = "..."
    api_passphrase = "..."   # OKX only
    command_secret = "..."
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key; its repr never shows the secret or the passphrase."""

    api_key: str
    api_secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)


def env_names(account: str) -> tuple[str, str]:
    base = "MARGINBOT_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    return f"{base}_API_KEY", f"{base}_API_SECRET"


def _secrets_table(path: Path, account: str) -> dict[str, object] | None:
    try:
        mode = path.stat().st_mode
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"secrets file {path} is not valid TOML") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secrets file {path} is readable by other users; run `chmod 600 {path}`")
    entry = document.get(account)
    return entry if isinstance(entry, dict) else None


MIN_COMMAND_SECRET = 16  # characters: a guessable secret is no proof


def load_command_secret(account: str, secrets_file: str | None) -> str | None:
    """The account's secret for signed MQTT commands, or None: it takes none."""
    name = env_names(account)[0].removesuffix("_API_KEY") + "_COMMAND_SECRET"
    secret = os.environ.get(name)
    if not secret and secrets_file is not None:
        entry = _secrets_table(Path(secrets_file), account) or {}
        secret = str(entry.get("command_secret") or "") or None
    if secret is not None and len(secret) < MIN_COMMAND_SECRET:
        raise ConfigError(
            f"the command secret of account {account!r} ({name}) has {len(secret)} characters; "
            f"use at least {MIN_COMMAND_SECRET} (e.g. `openssl rand -hex 32`)"
        )
    return secret


def load_credentials(
    account: str, secrets_file: str | None, needs_passphrase: bool = False
) -> Credentials:
    """The account's key; `needs_passphrase` (OKX) also requires its passphrase."""
    key_name, secret_name = env_names(account)
    passphrase_name = key_name.removesuffix("_KEY") + "_PASSPHRASE"
    key, secret = os.environ.get(key_name), os.environ.get(secret_name)
    passphrase = os.environ.get(passphrase_name) or None
    if not (key and secret) and secrets_file is not None:
        path = Path(secrets_file)
        entry = _secrets_table(path, account)
        if entry is None or not entry.get("api_key") or not entry.get("api_secret"):
            raise ConfigError(
                f"secrets file {path} has no [{account}] table with api_key and api_secret"
            )
        key, secret = str(entry["api_key"]), str(entry["api_secret"])
        passphrase = str(entry.get("api_passphrase") or "") or None
    if not (key and secret):
        raise ConfigError(
            f"account {account!r} trades on a testnet but has no credentials: set "
            f"{key_name} and {secret_name}, or give secrets_file"
        )
    if needs_passphrase and not passphrase:
        raise ConfigError(
            f"account {account!r} trades on OKX, whose API keys have a passphrase: set "
            f"{passphrase_name}, or api_passphrase in its secrets file table"
        )
    return Credentials(key, secret, passphrase)
