"""Find the access tokens without being told: the environment, else the server's key file.

For each kind (``inference``, ``management``): ``TSERVE_TOKEN`` / ``TSERVE_MANAGEMENT_TOKEN``,
else that kind's key in ``key_file.json`` of the server's run folder: ``TSERVE_RUN_DIR``
when set, else this checkout's ``.run/`` (where ``make serve`` runs), else the current
folder. No token at all is not an error: a server with token auth off needs none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from client.errors import TokenFileError
from server import settings
from server.settings import KEY_FILE, RUN_DIR_ENV

Kind = Literal["inference", "management"]

REPO_RUN_DIR = settings.RUN_DIR  # where `make serve` runs (a name tests can point elsewhere)
TOKEN_ENV: dict[Kind, str] = {
    "inference": settings.INFERENCE_TOKEN_ENV,
    "management": settings.MANAGEMENT_TOKEN_ENV,
}


def key_file_candidates(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the key file may be, in order: an explicit run folder is the only place."""
    if env.get(RUN_DIR_ENV):
        return [Path(env[RUN_DIR_ENV]) / KEY_FILE]
    return [REPO_RUN_DIR / KEY_FILE, cwd / KEY_FILE]


def read_key_file(path: Path) -> dict[str, str]:
    """``{kind: key}`` from a TorchServe key file (``{"inference": {"key": ...}, ...}``); the
    one reader of it (the client, the launcher, the health check, the container tests)."""
    try:
        data = json.loads(path.read_text())
        return {kind: str(entry["key"]) for kind, entry in data.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TokenFileError(f"{path} is not a TorchServe key file: {exc!r}") from None


class TokenSource:
    """The tokens for one client; a key file is re-read when it changes (a restarted
    server writes new keys), so a long-lived client follows the server."""

    def __init__(
        self,
        inference: str | None = None,
        management: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.explicit: dict[Kind, str | None] = {"inference": inference, "management": management}
        self.env = os.environ if env is None else env
        self.cwd = Path.cwd() if cwd is None else cwd
        self._cache: tuple[Path, int, dict[str, str]] | None = None

    def key_file(self) -> Path | None:
        """The first existing candidate key file, if any."""
        return next((p for p in key_file_candidates(self.env, self.cwd) if p.is_file()), None)

    def get(self, kind: Kind) -> str | None:
        """The token for ``kind`` calls, or None when none is configured anywhere."""
        if self.explicit[kind]:
            return self.explicit[kind]
        if self.env.get(TOKEN_ENV[kind]):
            return self.env[TOKEN_ENV[kind]]
        path = self.key_file()
        if path is None:
            return None
        mtime = path.stat().st_mtime_ns
        if self._cache is None or self._cache[:2] != (path, mtime):
            self._cache = (path, mtime, read_key_file(path))
        return self._cache[2].get(kind)

    def origin(self, kind: Kind) -> str:
        """Where the ``kind`` token comes from, for error messages."""
        if self.explicit[kind]:
            return "the token given to the client"
        if self.env.get(TOKEN_ENV[kind]):
            return f"${TOKEN_ENV[kind]}"
        path = self.key_file()
        if path is not None:
            return str(path)
        places = [f"${TOKEN_ENV[kind]}", *map(str, key_file_candidates(self.env, self.cwd))]
        return f"no token found (looked in {', '.join(places)})"
