"""notebooks/query_models.ipynb runs headless against the test server, every cell clean.

nbclient starts a real IPython kernel (ipykernel) with the test server's address and key in
its environment, in ``notebooks/`` as Jupyter would; a cell that raises fails the test. The
tagged cells' outputs are then checked, so a notebook that runs but says the wrong thing
fails too.
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from server.launcher import TorchServe
from server.settings import ROOT
from tests.answers import same_text

NOTEBOOK = ROOT / "notebooks" / "query_models.ipynb"


def tagged(notebook: Any, tag: str) -> Any:
    (cell,) = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    return cell


def stdout(cell: Any) -> list[str]:
    streams = [out.text for out in cell.outputs if out.output_type == "stream"]
    return "".join(streams).splitlines()


def test_notebook_runs_against_the_server(
    server: TorchServe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the notebook's own way to find the server.
    monkeypatch.setenv("TSERVE_INFERENCE_URL", server.inference_url)
    monkeypatch.setenv("TSERVE_RUN_DIR", str(server.run_dir))
    monkeypatch.delenv("TSERVE_TOKEN", raising=False)
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
    plot = [out for out in tagged(notebook, "plot").outputs if "image/png" in out.get("data", {})]
    assert len(plot) == 1, tagged(notebook, "plot").outputs
    cancer = [line.split()[0] for line in stdout(tagged(notebook, "cancer"))]
    assert cancer == ["malignant", "malignant", "benign"]
    minilm = [line.split()[0] for line in stdout(tagged(notebook, "minilm"))]
    assert minilm == ["football", "cooking", "astronomy"]
