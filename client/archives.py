"""A local ``.mar`` made registrable: TorchServe 0.12 registers only what is in its store.

TorchServe's ``POST /models?url=`` reads a bare file name from its model store, and
downloads a URL into the store under the URL's last segment before loading it. Our
launcher limits ``allowed_urls`` to ``file://`` URLs of the store itself, which then always
collide with the file they name (500 "Model file already exists"), and a path such as
``build/v2/cancer.mar`` is read as the store's own ``cancer.mar`` (version 1.0 again). So a
local archive given by its path is copied into the store as ``<model>-<version>.mar`` (both
from its manifest), registered by that name, and the copy removed once TorchServe has unpacked it
(registration unpacks the archive into its own temporary folder, which its workers load
from): the store keeps only the archives `make archive` built, so the next `make serve`
loads the same models.

    with staged(Path("build/v2/cancer.mar"), MODEL_STORE) as name:   # "cancer-2.0.mar"
        client.register(name)
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

MANIFEST = "MAR-INF/MANIFEST.json"  # torch-model-archiver writes the model's name and version


class ArchiveId(NamedTuple):
    name: str
    version: str


def local_archive(url: str, cwd: Path | None = None) -> Path | None:
    """The local file ``url`` names (a path with a ``/``, or a file that exists), or None
    for what TorchServe resolves itself: a URL (``file://`` included: the server's
    ``allowed_urls`` judges it) or a bare name in its store."""
    if urlsplit(url).scheme in ("file", "http", "https"):
        return None
    path = Path(url) if cwd is None or Path(url).is_absolute() else cwd / url
    if path.is_file() or "/" in url:  # a path that is not there is named in the error
        return path
    return None  # a bare name: an archive in the server's store


def archive_id(path: Path) -> ArchiveId:
    """The model name and version in ``path``'s manifest."""
    try:
        with zipfile.ZipFile(path) as mar:
            model = json.loads(mar.read(MANIFEST))["model"]
        return ArchiveId(str(model["modelName"]), str(model["modelVersion"]))
    except (zipfile.BadZipFile, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not a model archive (.mar): {error}") from None


@contextlib.contextmanager
def staged(path: Path, store: Path) -> Iterator[str]:
    """The name to register the local archive ``path`` by, with the file in ``store`` for
    the ``with`` block: an archive already directly in the store is used as it is; any
    other is copied in as ``<model>-<version>.mar`` and the copy removed afterwards."""
    if not path.is_file():
        raise FileNotFoundError(f"no archive at {path}")
    if not store.is_dir():
        raise FileNotFoundError(
            f"the server's model store {store} is not on this machine: a local archive is "
            "copied there to be registered (give the store's folder, or a URL the server allows)"
        )
    if path.resolve().parent == store.resolve():
        yield path.name
        return
    name, version = archive_id(path)
    target = store / f"{name}-{version}.mar"
    if target.exists():
        if not filecmp.cmp(path, target, shallow=False):
            raise FileExistsError(
                f"{target} is another archive of {name} {version}: remove it, or register "
                f"it by its name ({target.name})"
            )
        yield target.name  # left by hand: the same bytes, and not ours to remove
        return
    with path.open("rb") as source, target.open("xb") as copy:
        shutil.copyfileobj(source, copy)
    try:
        yield target.name
    finally:
        target.unlink(missing_ok=True)
