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


def test_the_thirteen_tutorials_are_there() -> None:
    numbers = {p.name[:2] for p in NOTEBOOKS}
    assert numbers == {f"{n:02d}" for n in range(1, 14)}, [p.name for p in NOTEBOOKS]


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


# ------------------------------------------------------------------ solutions (issue 19)
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))


def test_tutorials_12_and_13_exist() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"12_best_practices_on_the_wire", "13_command_line_next_to_hskit"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_links_its_solution(path: Path) -> None:
    exercise = nbformat.read(path, as_version=4).cells[-1].source
    solution = f"solutions/{path.stem}_solutions.ipynb"
    assert solution in exercise, f"{path.name}: the exercise does not link {solution}"
    assert (path.parent / solution).is_file(), solution


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert not [i for i, cell in enumerate(notebook.cells) if cell.get("outputs")], path.name


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_runs_and_passes_its_check(path: Path) -> None:
    """Each solution notebook computes the truth, checks an empty answer (not answered yet),
    then the solution, and its last cell asserts that the solution passes the check."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=BUDGET,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    last = notebook.cells[-1]
    assert last.cell_type == "code" and "assert check(solution, truth)" in last.source
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    assert "✓" in printed and "✗" not in printed, printed
    unanswered = "".join(output.get("text", "") for output in notebook.cells[3].outputs)
    assert "not answered yet" in unanswered, unanswered
