"""notebooks/query_models.ipynb runs headless against the test server, every cell clean.

nbclient starts a real IPython kernel (ipykernel) with the test server's address and key in
its environment, in ``notebooks/`` as Jupyter would; a cell that raises fails the test. The
tagged cells' outputs are then checked, so a notebook that runs but says the wrong thing
fails too: one answer per model through the project's ``Client``, the cancer model's
held-out evaluation (its accuracy as built, its confusion matrix), the nearest sentences
by embedding, and a batch run read back with pandas.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from server.launcher import TorchServe
from server.settings import ROOT
from tests.answers import same_text
from tests.integration.clients import client_env

NOTEBOOK = ROOT / "notebooks" / "query_models.ipynb"


def tagged(notebook: Any, tag: str) -> Any:
    (cell,) = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    return cell


def pngs(cell: Any) -> int:
    return sum("image/png" in out.get("data", {}) for out in cell.outputs)


def stdout(cell: Any) -> list[str]:
    streams = [out.text for out in cell.outputs if out.output_type == "stream"]
    return "".join(streams).splitlines()


def test_notebook_runs_against_the_server(
    server: TorchServe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the client's own way to find the server.
    for name, value in client_env(server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TSERVE_TOKEN", raising=False)
    monkeypatch.delenv("TSERVE_MANAGEMENT_TOKEN", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # no display here, whatever the machine has
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()  # raises CellExecutionError, naming the cell, if any cell fails

    digits = stdout(tagged(notebook, "digits"))
    assert len(digits) == 1 and same_text("7 0.999972", digits[0]), digits
    assert pngs(tagged(notebook, "plot")) == 1, tagged(notebook, "plot").outputs
    cancer = [line.split()[0] for line in stdout(tagged(notebook, "cancer"))]
    assert cancer == ["malignant", "malignant", "benign"]
    minilm = [line.split()[0] for line in stdout(tagged(notebook, "minilm"))]
    assert minilm == ["football", "cooking", "astronomy"]

    evaluation = stdout(tagged(notebook, "evaluation"))
    accuracy = re.fullmatch(
        r"held-out accuracy (\S+) over 114 rows \(at build time (\S+)\)", evaluation[0]
    )
    assert accuracy and accuracy[1] == accuracy[2], evaluation
    matrix = [[int(n) for n in line.split()[1:]] for line in evaluation[-2:]]
    assert [line.split()[0] for line in evaluation[-2:]] == ["malignant", "benign"], evaluation
    assert sum(map(sum, matrix)) == 114 and matrix[0][0] + matrix[1][1] > 110, matrix
    assert pngs(tagged(notebook, "evaluation")) == 1

    nearest = [
        line.split(" -> ")[1].rsplit(" (", 1)[0] for line in stdout(tagged(notebook, "nearest"))
    ]
    assert nearest == [
        "A man is eating food.",
        "A monkey is playing drums.",
        "The new movie is awesome.",
    ]
    batch = stdout(tagged(notebook, "batch"))
    assert batch[0] == "114 rows read back, 114 agree with the online answers", batch
