"""The archive's ``metadata.json``: written by ``models/build.py``, read by the handler
(``GET /models/<m>?customized=true`` returns it) and by anything that needs a model's
constants (labels, top-k, embedding size) without restating them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

METADATA_FILE = "metadata.json"  # at the archive's root

Kind = Literal["image", "vector", "text"]  # what a model reads; picks its contract
KINDS: tuple[Kind, ...] = ("image", "vector", "text")


class Metadata(TypedDict, total=False):
    kind: Kind
    model: str
    version: str
    task: str
    dataset: str
    labels: list[str]  # classifiers: in the model's output order
    top_k: int  # image: labels ranked per answer
    dimension: int  # text: embedding size
    max_tokens: int  # text: tokens read per text; longer ones are cut
    input: dict[str, Any]
    accuracy: dict[str, Any]


class MetadataError(ValueError):
    """An archive without usable metadata: built before ``kind`` existed, or not ours."""


def read_metadata(archive: Path) -> Metadata:
    """``metadata.json`` of a ``.mar`` archive, with its ``kind`` checked."""
    try:
        with zipfile.ZipFile(archive) as mar:
            document = json.loads(mar.read(METADATA_FILE))
    except KeyError:
        raise MetadataError(f"{archive} has no {METADATA_FILE}") from None
    return checked(document, str(archive))


def checked(document: Any, origin: str) -> Metadata:
    """``document`` as Metadata once it names a known kind."""
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in KINDS:
        raise MetadataError(
            f"{origin}: metadata kind {kind!r} is not one of {', '.join(KINDS)} "
            "(an archive built before kinds existed: run `make archive`)"
        )
    return cast(Metadata, document)
