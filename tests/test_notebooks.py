"""Every tutorial notebook runs top to bottom on the bundled captures.

The notebooks assert the facts they teach, so a wrong result in hskit fails here.
Outputs are not committed: a notebook with outputs in the repository fails too.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: the issue's budget per notebook, seconds (also the per-cell timeout).
BUDGET = 60


def test_there_are_ten_tutorials() -> None:
    assert len(NOTEBOOKS) == 10, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    with_outputs = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.get("outputs") or cell.get("execution_count")
    ]
    assert not with_outputs, f"{path.name}: cells {with_outputs} have outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_assertions_hold(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=BUDGET,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - started
    print(f"{path.name}: {elapsed:.1f} s")
    assert notebook.cells[-1].cell_type == "markdown" and "Exercise" in notebook.cells[-1].source
