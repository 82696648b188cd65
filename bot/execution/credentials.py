"""API credentials: from the environment or a separate secrets file, never the main config.

Environment: `MARGINBOT_<ACCOUNT>_API_KEY` and `MARGINBOT_<ACCOUNT>_API_SECRET` (the account name
upper-cased, other characters as `_`). Secrets file (TOML, readable by its owner only):

    [isolated]
    api_key = "..."
    api_secret = "..."
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

from bot.errors import ConfigError


def env_names(account: str) -> tuple[str, str]:
    base = "MARGINBOT_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    return f"{base}_API_KEY", f"{base}_API_SECRET"


def load_credentials(account: str, secrets_file: str | None) -> tuple[str, str]:
    key_name, secret_name = env_names(account)
    key, secret = os.environ.get(key_name), os.environ.get(secret_name)
    if key and secret:
        return key, secret
    if secrets_file is not None:
        path = Path(secrets_file)
        try:
            mode = path.stat().st_mode
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"secrets file {path} is not valid TOML") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"secrets file {path} is readable by other users; run `chmod 600 {path}`"
            )
        entry = document.get(account)
        if isinstance(entry, dict) and entry.get("api_key") and entry.get("api_secret"):
            return str(entry["api_key"]), str(entry["api_secret"])
        raise ConfigError(
            f"secrets file {path} has no [{account}] table with api_key and api_secret"
        )
    raise ConfigError(
        f"account {account!r} trades on a testnet but has no credentials: set "
        f"{key_name} and {secret_name}, or give secrets_file"
    )
