"""Tokens saved by `eventrelay login`, one per admin API URL, in a file only the user can read.

`$XDG_CONFIG_HOME/eventrelay/tokens.json` (default `~/.config/...`), mode 0600. `EVENTRELAY_TOKEN`
wins over a saved token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def tokens_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "eventrelay" / "tokens.json"


def _key(api_url: str) -> str:
    return api_url.rstrip("/")


def _saved() -> dict[str, str]:
    try:
        document = json.loads(tokens_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


def saved_token(api_url: str) -> str | None:
    return _saved().get(_key(api_url))


def save_token(api_url: str, token: str) -> Path:
    path = tokens_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = {**_saved(), _key(api_url): token}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(tokens, handle)
    os.chmod(path, 0o600)
    return path
