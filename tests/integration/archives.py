"""What the archives pack: the settings a server is expected to apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batch.archive import read_archive
from server.settings import MODEL_STORE


def packed_config(name: str, store: Path = MODEL_STORE) -> dict[str, Any]:
    """The model-config YAML packed in ``store/<name>.mar``."""
    return read_archive(store / f"{name}.mar").config


def packed_workers(name: str) -> int:
    """The project's archive's minWorkers. TorchServe 0.12 lets it win over a registration's
    ``initial_workers`` (the batching parameters do override the archive)."""
    return int(packed_config(name)["minWorkers"])
