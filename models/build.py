"""Train the demo models and package each as a TorchServe archive in ``model_store/``.

    python -m models.build [--only NAME] [--version 1.0]

Each archive holds the model's state_dict, its architecture file, its handler with the
modules of ``handlers`` and ``contracts`` it imports (followed through their imports),
``metadata.json`` (the model's kind and answer constants among it) and the model-config
YAML from ``config/models/``.

An archive built into the store also gets ``build/deps/<name>.d``: the make rule naming
every file it was built from (its handler's and trainer's imports within this project, its
model file and config, this file), as a compiler's ``-MMD`` does. `make archive`
(mk/models.mk) includes them, so an edit rebuilds only the archives that read the file.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from contracts.metadata import Kind
from server.settings import MODEL_STORE, ROOT

if TYPE_CHECKING:  # torch is imported where a model is trained: --help and deps need none
    from torch import nn

# build(extra) returns the trained model (None when the handler loads its own files) and
# its metadata; it may write files into ``extra``, which lands at the archive's root.
Builder = Callable[[Path], "tuple[nn.Module | None, dict[str, Any]]"]
DEPS_DIR = ROOT / "build" / "deps"  # <name>.d per archive built into the store


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Kind  # what the model reads: picks its contract (contracts/) and batch packer
    handler: str
    build: Builder
    model_file: str | None = None  # the one-nn.Module file TorchServe imports, if any

    @property
    def config(self) -> Path:
        """The model-config YAML packed into the archive (workers, batching, handler)."""
        return ROOT / "config" / "models" / f"{self.name}.yaml"

    @property
    def trainer(self) -> Path:
        """The module that trains the model (``build`` imports it)."""
        return ROOT / "models" / f"{self.name}.py"

    def packed(self) -> list[Path]:
        """The files of ``PACKAGES`` that go into the archive: its handler's imports."""
        return sorted(
            path
            for path in imports_of([ROOT / self.handler])
            if path.relative_to(ROOT).parts[0] in PACKAGES
        )

    def sources(self) -> list[Path]:
        """Every file of this checkout the archive is built from: its handler's, trainer's
        and model file's imports, its config, and this file (whose imports of the other
        models' trainers are not followed)."""
        roots = [ROOT / self.handler, self.trainer]
        roots += [ROOT / self.model_file] if self.model_file else []
        this = {Path(__file__).resolve(), ROOT / "models" / "__init__.py"}
        return sorted(imports_of(roots) | this | {self.config})


# Handler settings of the model config that shape the answer: copied into the metadata, so
# a client reads them from the archive instead of restating them.
ANSWER_SETTINGS = ("top_k",)
# Packages at the archive's root: the handlers and the contracts they answer with.
PACKAGES = ("handlers", "contracts")
# This project's packages that an archive's sources are followed into (server/ holds
# paths only; a third-party package is the venv's, pinned).
PROJECT_PACKAGES = (*PACKAGES, "models")


def module_file(module: str) -> Path | None:
    """The file of ``module`` (dotted) when it is a module of ``PROJECT_PACKAGES``."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def imported_files(path: Path) -> set[Path]:
    """The project files ``path`` imports anywhere in it (a package's ``__init__`` too)."""
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # ``from contracts import image``: the package, and image if it is a module.
            modules += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    found = set()
    for module in modules:
        parts = module.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b runs a/__init__.py first
            if (file := module_file(".".join(parts[:end]))) is not None:
                found.add(file)
    return found


def imports_of(roots: Iterable[Path]) -> set[Path]:
    """``roots`` and every project file they import, followed through their imports."""
    seen: set[Path] = set()
    pending = list(roots)
    while pending:
        path = pending.pop()
        if path not in seen:
            seen.add(path)
            pending += imported_files(path) - seen
    return seen


def deps_rule(spec: ModelSpec, mar: Path) -> str:
    """The make rule of ``mar`` on its sources, and an empty rule per source (so a deleted
    or renamed module means a rebuild, not "No rule to make target")."""
    files = [os.path.relpath(path, ROOT) for path in spec.sources()]
    rule = f"{os.path.relpath(mar, ROOT)}: {' '.join(files)}\n"
    return rule + "".join(f"{file}:\n" for file in files)


def _digits(extra: Path) -> tuple[nn.Module, dict[str, Any]]:
    from models import digits

    return digits.build()


def _cancer(extra: Path) -> tuple[nn.Module, dict[str, Any]]:
    from models import cancer

    return cancer.build()


def _minilm(extra: Path) -> tuple[None, dict[str, Any]]:
    from models import minilm

    return minilm.build(extra)


SPECS = {
    spec.name: spec
    for spec in (
        ModelSpec("digits", "image", "handlers/image_handler.py", _digits, "models/digits_net.py"),
        ModelSpec(
            "cancer", "vector", "handlers/vector_handler.py", _cancer, "models/cancer_net.py"
        ),
        ModelSpec("minilm", "text", "handlers/text_handler.py", _minilm),
    )
}


def stage(spec: ModelSpec, version: str, work: Path) -> Path:
    """Train the model and lay out in ``work`` what goes into its archive; return it."""
    started = time.perf_counter()
    import torch

    extra = work / "extra"  # its contents land at the archive's root
    for path in spec.packed():
        target = extra / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    model, metadata = spec.build(extra)
    settings = (yaml.safe_load(spec.config.read_text()) or {}).get("handler", {})
    metadata |= {key: settings[key] for key in ANSWER_SETTINGS if key in settings}
    if model is not None:
        torch.save(model.state_dict(), work / "weights.pt")
    metadata |= {
        "kind": spec.kind,
        "model": spec.name,
        "version": version,
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (extra / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    if "accuracy" in metadata:
        print(f"{spec.name}: held-out accuracy {metadata['accuracy']['held_out']:.2%}")
    return work


def archive(spec: ModelSpec, work: Path, version: str, export_path: Path) -> Path:
    """Run torch-model-archiver on a staged model; return the .mar path."""
    export_path.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("torch-model-archiver")),
        "--model-name",
        spec.name,
        "--version",
        version,
        "--handler",
        str(ROOT / spec.handler),
        "--extra-files",
        str(work / "extra"),
        "--config-file",
        str(spec.config),
        "--export-path",
        str(export_path),
        "--force",
    ]
    if spec.model_file:
        command += ["--model-file", str(ROOT / spec.model_file)]
        command += ["--serialized-file", str(work / "weights.pt")]
    subprocess.run(command, check=True)
    return export_path / f"{spec.name}.mar"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SPECS), action="append", help="build just these")
    parser.add_argument("--version", default="1.0", help="model version written in the archive")
    parser.add_argument("--export-path", type=Path, default=MODEL_STORE)
    args = parser.parse_args(argv)
    for name in args.only or list(SPECS):
        spec = SPECS[name]
        # A private stage folder per build: two builds at once (tests building other
        # versions beside `make archive`) never delete each other's files.
        with tempfile.TemporaryDirectory(prefix=f"stage-{name}-") as work:
            mar = archive(
                spec, stage(spec, args.version, Path(work)), args.version, args.export_path
            )
        print(f"{spec.name}: wrote {mar.relative_to(ROOT) if mar.is_relative_to(ROOT) else mar}")
        if args.export_path.resolve() == MODEL_STORE:
            DEPS_DIR.mkdir(parents=True, exist_ok=True)
            (DEPS_DIR / f"{name}.d").write_text(deps_rule(spec, mar))


if __name__ == "__main__":
    main()
