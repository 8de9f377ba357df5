"""Find the server and its tokens without being told: the environment, else its run folder.

The run folder is ``TSERVE_RUN_DIR`` when set, else this checkout's ``.run/`` (where ``make
serve`` runs), else the current folder. It holds ``server.json`` (the server's URLs, read by
``client.api``), ``api-key`` (the front door's own key, when no key was configured) and
TorchServe's ``key_file.json``.

Tokens, for each kind: ``TSERVE_TOKEN`` / ``TSERVE_MANAGEMENT_TOKEN``, else from the run
folder: an inference call goes through the front door with its ``api-key``; a management
call goes to TorchServe with the management key of ``key_file.json``. No token at all is
not an error: a server with token auth off needs none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from client.errors import TokenFileError
from server import settings
from server.settings import KEY_FILE, LOCAL_KEY_FILE, RUN_DIR_ENV, SERVER_FILE

Kind = Literal["inference", "management"]

REPO_RUN_DIR = settings.RUN_DIR  # where `make serve` runs (a name tests can point elsewhere)
TOKEN_ENV: dict[Kind, str] = {
    "inference": settings.INFERENCE_TOKEN_ENV,
    "management": settings.MANAGEMENT_TOKEN_ENV,
}


def run_folders(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the server's run folder may be, in order: an explicit one is the only place."""
    if env.get(RUN_DIR_ENV):
        return [Path(env[RUN_DIR_ENV])]
    return [REPO_RUN_DIR, cwd]


def key_file_candidates(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the key file may be, in order."""
    return [folder / KEY_FILE for folder in run_folders(env, cwd)]


def server_urls(env: Mapping[str, str], cwd: Path | None = None) -> dict[str, str]:
    """The URLs the running server wrote to its run folder's ``server.json`` (``{}`` if
    none): ``inference_url``, ``management_url``, ``metrics_url``."""
    for folder in run_folders(env, Path.cwd() if cwd is None else cwd):
        try:
            data = json.loads((folder / SERVER_FILE).read_text())
        except FileNotFoundError:
            continue
        except ValueError as exc:
            raise TokenFileError(f"{folder / SERVER_FILE} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise TokenFileError(f"{folder / SERVER_FILE} is not a JSON object")
        return {str(name): str(url) for name, url in data.items()}
    return {}


KEY_FILE_SHAPE = '{"inference": {"key": "..."}, "management": {"key": "..."}, ...}'


def read_key_file(path: Path) -> dict[str, str]:
    """``{kind: key}`` from a TorchServe key file (``{"inference": {"key": ...}, ...}``); the
    one reader of it (the client, the launcher, the health check, the container tests)."""
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:  # not JSON, or not UTF-8
        raise TokenFileError(f"{path} is not a TorchServe key file: not JSON ({exc})") from None
    if problem := key_file_problem(data):
        raise TokenFileError(
            f"{path} is not a TorchServe key file: {problem}; expected {KEY_FILE_SHAPE}"
        )
    return {kind: str(entry["key"]) for kind, entry in data.items()}


def key_file_problem(data: object) -> str | None:
    """What is wrong with a parsed key file, named by JSON types (never its values: they
    may be keys), or None."""
    if not isinstance(data, dict):
        return f"it holds {_json_type(data)}, not an object"
    for kind, entry in data.items():
        if not isinstance(entry, dict):
            return f'"{kind}" is {_json_type(entry)}, not an object with a "key"'
        if "key" not in entry:
            return f'"{kind}" has no "key"'
    return None


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


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

    def door_key_file(self) -> Path | None:
        """The front door's own key in the first run folder that has one, if any."""
        candidates = (folder / LOCAL_KEY_FILE for folder in run_folders(self.env, self.cwd))
        return next((path for path in candidates if path.is_file()), None)

    def get(self, kind: Kind) -> str | None:
        """The token for ``kind`` calls, or None when none is configured anywhere."""
        if self.explicit[kind]:
            return self.explicit[kind]
        if self.env.get(TOKEN_ENV[kind]):
            return self.env[TOKEN_ENV[kind]]
        door_key = self.door_key_file() if kind == "inference" else None
        if door_key is not None:
            return door_key.read_text().strip() or None
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
        door_key = self.door_key_file() if kind == "inference" else None
        if door_key is not None:
            return str(door_key)
        path = self.key_file()
        if path is not None:
            return str(path)
        places = [f"${TOKEN_ENV[kind]}", *map(str, key_file_candidates(self.env, self.cwd))]
        return f"no token found (looked in {', '.join(places)})"
