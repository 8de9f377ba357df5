"""`make archive` rebuilds only the archives whose sources changed (mk/models.mk and the
deps rules models/build.py writes), run by make in a sandbox of empty files.

Each case touches files and lists the archives make would build; the recipe only echoes.
The deps are what models.build computes from the real handlers' and trainers' imports,
so a handler that starts importing another module shows up here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from models.build import SPECS, deps_rule
from server.settings import MODEL_STORE, ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
OLD, BUILT, EDITED = 1_000_000_000, 1_000_000_100, 1_000_000_200  # mtimes
HARNESS = """\
ARCHIVES := model_store/digits.mar model_store/cancer.mar model_store/minilm.mar
VENV := venv
PY := @echo build
all: $(ARCHIVES)
include mk/models.mk
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """Every source of every archive (empty), the deps rules, archives newer than both."""
    (tmp_path / "mk").mkdir()
    shutil.copy(ROOT / "mk" / "models.mk", tmp_path / "mk" / "models.mk")
    (tmp_path / "Makefile").write_text(HARNESS)
    deps = tmp_path / "build" / "deps"
    deps.mkdir(parents=True)
    files = [tmp_path / "venv" / ".runtime"]
    for name, spec in SPECS.items():
        (deps / f"{name}.d").write_text(deps_rule(spec, MODEL_STORE / f"{name}.mar"))
        files += [tmp_path / path.relative_to(ROOT) for path in spec.sources()]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (OLD, OLD))
    for name in SPECS:
        archive = tmp_path / "model_store" / f"{name}.mar"
        archive.parent.mkdir(exist_ok=True)
        archive.touch()
        os.utime(archive, (BUILT, BUILT))
    return tmp_path


def rebuilt(sandbox: Path, *edited: str) -> list[str]:
    """The archives make builds once ``edited`` (paths in the checkout) changed."""
    for path in edited:
        os.utime(sandbox / path, (EDITED, EDITED))
    run = subprocess.run(
        ["make", "--no-print-directory", "-C", str(sandbox)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [line.split("--only ")[1] for line in run.stdout.splitlines() if "--only" in line]


@pytest.mark.parametrize(
    ("edited", "archives"),
    [
        ((), []),
        (("handlers/vector_parsing.py",), ["cancer"]),
        (("handlers/image_wire.py",), ["digits"]),
        (("handlers/digit_features.py",), ["digits"]),  # the handler's and the trainer's
        (("handlers/text_parsing.py",), ["minilm"]),
        (("config/models/minilm.yaml",), ["minilm"]),
        (("models/cancer_net.py",), ["cancer"]),
        (("contracts/pooling.py",), ["minilm"]),
        (("handlers/batched_handler.py",), ["digits", "cancer", "minilm"]),
        (("contracts/wire.py",), ["digits", "cancer", "minilm"]),
        (("models/build.py",), ["digits", "cancer", "minilm"]),
    ],
)
def test_only_the_archives_that_read_a_file_are_rebuilt(
    sandbox: Path, edited: tuple[str, ...], archives: list[str]
) -> None:
    assert rebuilt(sandbox, *edited) == archives


def test_an_archive_without_deps_depends_on_every_model_source(sandbox: Path) -> None:
    (sandbox / "build" / "deps" / "cancer.d").unlink()
    assert rebuilt(sandbox, "handlers/image_wire.py") == ["digits", "cancer"]


def test_a_module_gone_since_the_build_rebuilds_without_an_error(sandbox: Path) -> None:
    (sandbox / "handlers" / "vector_parsing.py").unlink()
    assert rebuilt(sandbox) == ["cancer"]


def test_an_archive_packs_the_modules_its_handler_imports() -> None:
    packed = {
        name: {p.relative_to(ROOT).as_posix() for p in s.packed()} for name, s in SPECS.items()
    }
    assert "handlers/vector_parsing.py" in packed["cancer"]
    assert "handlers/image_wire.py" not in packed["cancer"]
    assert "contracts/pooling.py" in packed["minilm"] - packed["digits"]
    assert all(
        {"handlers/__init__.py", "contracts/__init__.py"} <= files for files in packed.values()
    )
