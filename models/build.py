"""Train the demo models and package each as a TorchServe archive in ``model_store/``.

    python -m models.build [--only NAME] [--version 1.0]

Each archive holds the model's state_dict, its architecture file, its handler plus the
``handlers`` and ``contracts`` packages, ``metadata.json`` (the model's kind and answer
constants among it) and the model-config YAML from ``config/models/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from contracts.metadata import Kind
from server.settings import MODEL_STORE, ROOT

# build(extra) returns the trained model (None when the handler loads its own files) and
# its metadata; it may write files into ``extra``, which lands at the archive's root.
Builder = Callable[[Path], tuple[nn.Module | None, dict[str, Any]]]


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


# Handler settings of the model config that shape the answer: copied into the metadata, so
# a client reads them from the archive instead of restating them.
ANSWER_SETTINGS = ("top_k",)
# Packages at the archive's root: the handlers and the contracts they answer with.
PACKAGES = ("handlers", "contracts")


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
    extra = work / "extra"  # its contents land at the archive's root
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, extra / package, ignore=shutil.ignore_patterns("__pycache__")
        )
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


if __name__ == "__main__":
    main()
