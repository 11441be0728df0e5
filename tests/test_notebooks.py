"""The example notebooks run from top to bottom, and match their generator script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


@pytest.mark.parametrize("name", sorted(GENERATOR.NOTEBOOKS))
def test_notebook_matches_its_generator(name):
    on_disk = nbformat.read(NOTEBOOKS / name, as_version=4)
    built = GENERATOR.build(GENERATOR.NOTEBOOKS[name])
    assert [(c.cell_type, c.source) for c in on_disk.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], f"{name} differs from notebooks/make_notebooks.py: run the script"


@pytest.mark.parametrize("name", sorted(GENERATOR.NOTEBOOKS))
def test_notebook_runs(name, tmp_path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        # Run in a scratch directory, so that a notebook writing files leaves nothing behind.
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError with the cell's traceback on failure
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # Every notebook shows at least one figure.
    assert any("image/png" in o.get("data", {}) for o in outputs)
