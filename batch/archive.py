"""What a model archive (``.mar``) says about itself: name, version, handler, sha256.

Both engines record these as the provenance of every row, so the server engine reads the
same archive the server was started with (``model_store/<model>.mar`` by default).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from batch.errors import BatchError
from contracts.metadata import METADATA_FILE, Kind, MetadataError, checked

MANIFEST = "MAR-INF/MANIFEST.json"


@dataclass(frozen=True)
class Archive:
    path: Path
    name: str
    version: str
    handler: str  # the handler file at the archive's root, e.g. "vector_handler.py"
    kind: Kind  # what the model reads (its metadata's "kind"): picks its contract
    sha256: str
    config: dict[str, Any]  # the model-config YAML packed in the archive

    @property
    def batch_size(self) -> int:
        """Requests TorchServe hands the handler at once (``batchSize`` in the YAML)."""
        return int(self.config.get("batchSize", 1))


def read_archive(path: Path) -> Archive:
    """The manifest, model config and sha256 of the archive at ``path``."""
    try:
        with zipfile.ZipFile(path) as mar:
            manifest = json.loads(mar.read(MANIFEST))
            model = manifest["model"]
            config_file = model.get("configFile")
            config = yaml.safe_load(mar.read(config_file)) if config_file else {}
            metadata = checked(json.loads(mar.read(METADATA_FILE)), str(path))
    except FileNotFoundError:
        raise BatchError(f"no model archive {path}: run `make archive`") from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise BatchError(f"{path} is not a TorchServe model archive: {exc}") from None
    except MetadataError as exc:
        raise BatchError(str(exc)) from None
    return Archive(
        path=path,
        name=model["modelName"],
        version=model.get("modelVersion", "1.0"),
        handler=model["handler"],
        kind=metadata["kind"],
        sha256=sha256_of(path),
        config=config or {},
    )


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
