"""The front door's API keys: where they come from, and the digests the door compares.

Clients send ``Authorization: Bearer <key>``. The keys are, in order:

1. ``TSERVE_API_KEYS``: comma-separated keys in the environment (a platform's secret store);
2. ``TSERVE_API_KEYS_FILE``: a file with one key per line (a mounted secret; ``#`` starts a
   comment), read at start;
3. neither: one key generated once for this run folder and kept in ``<run dir>/api-key``
   (0600), so ``make serve`` is locked from the first start and a restart keeps the key.

Several keys may be valid at once, which is how a key is rotated without downtime: add the
new one, switch the clients, remove the old. Every replica given the same keys accepts
them. The door holds only SHA-256 digests (``digest``); a key is never written to a log.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from server.settings import API_KEYS_ENV, API_KEYS_FILE_ENV, LOCAL_KEY_FILE

# What a key may be: header-safe characters, long enough not to be guessed.
KEY_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


class ApiKeyError(ValueError):
    """The configured keys are unusable; the message names the problem, never a key."""


def parse_keys(text: str, separator: str, source: str) -> list[str]:
    """The keys in ``text`` (split on ``separator``; blanks and ``#`` comments skipped)."""
    keys = []
    for number, item in enumerate(text.split(separator), start=1):
        key = item.split("#", 1)[0].strip() if separator == "\n" else item.strip()
        if not key:
            continue
        if not KEY_PATTERN.fullmatch(key):
            where = f"line {number}" if separator == "\n" else f"item {number}"
            raise ApiKeyError(
                f"{source} {where}: an API key must be 16-256 characters of "
                "A-Z a-z 0-9 . _ ~ + / = - (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
        keys.append(key)
    return keys


def configured_keys(env: Mapping[str, str]) -> list[str] | None:
    """The keys from the environment or its key file; None when neither is set."""
    if env.get(API_KEYS_ENV, "").strip():
        keys = parse_keys(env[API_KEYS_ENV], ",", API_KEYS_ENV)
    elif env.get(API_KEYS_FILE_ENV, "").strip():
        path = Path(env[API_KEYS_FILE_ENV].strip())
        try:
            text = path.read_text()
        except OSError as error:
            raise ApiKeyError(f"{API_KEYS_FILE_ENV}={path}: {error.strerror}") from None
        keys = parse_keys(text, "\n", str(path))
    else:
        return None
    if not keys:
        raise ApiKeyError(f"{API_KEYS_ENV} / {API_KEYS_FILE_ENV} hold no key")
    return keys


def local_key(run_dir: Path) -> str:
    """This run folder's own key, generated (0600) on first use."""
    path = run_dir / LOCAL_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    run_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def keys_for(run_dir: Path, env: Mapping[str, str]) -> list[str]:
    """The keys the door accepts: the configured ones, else the run folder's own."""
    return configured_keys(env) or [local_key(run_dir)]


def digest(key: str) -> str:
    """What the door compares: the key's SHA-256, hex (as HAProxy's ``sha2(256),hex``)."""
    return hashlib.sha256(key.encode()).hexdigest().upper()
