"""``python -m build`` makes a complete sdist and a wheel that works where a user installs it.

One module-scoped build (the sdist, then the wheel built from it) of a copy of the
working tree; then the wheel, with the ``jupyter`` extra, goes into a fresh virtual
environment, dependencies from the package index as a user gets them. From an empty
folder elsewhere, with no ``PYTHONPATH``: ``hskit --version``, ``hskit demo`` on the
bundled samples, and a tutorial notebook executed by that environment's JupyterLab
(``jupyter nbconvert --execute``) on its own kernel. Durations are printed.

It needs ``build`` (the ``test`` extra) and ``venv`` with ``ensurepip`` (Debian:
``python3-venv``): without them it fails in CI and skips elsewhere.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, SAMPLE_DIR, unavailable

import hskit

#: the notebook run against the installed wheel.
NOTEBOOK = REPO / "notebooks" / "01_three_way_handshake.ipynb"
#: not copied before building: version control, build output (the built loops too), caches.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "site",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.so",
)
#: files the sdist must hold: tests with their data, samples with their scripts, docs.
SDIST_FILES = (
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "pyproject.toml",
    "setup.py",
    "mkdocs.yml",
    ".ci/run",
    "tests/conftest.py",
    "tests/data/zeek/manifest.csv",
    "tests/data/zeek/COPYING",
    "tests/data/real_loopback.pcap",
    "sample_pcaps/manifest.csv",
    "sample_pcaps/generate.py",
    "sample_pcaps/refused.pcap",
    "notebooks/01_three_way_handshake.ipynb",
    "docs/index.md",
    "docs/reference/contract.md",
    "docs/hooks/contract.py",
    "benchmarks/load.py",
)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH, so nothing leaks in from the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def _run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@dataclass(frozen=True)
class Installed:
    sdist: Path
    wheel: Path
    python: Path
    bin: Path
    elsewhere: Path
    #: what building, and making the venv and installing, took (seconds).
    build_time: float
    install_time: float


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The sdist and wheel built from a copy of the working tree; the wheel in a fresh venv."""
    if importlib.util.find_spec("build") is None:
        unavailable("the `build` package is not installed: pip install -e '.[test]'")
    if importlib.util.find_spec("ensurepip") is None:
        unavailable("venv cannot install pip here (Debian: apt-get install python3-venv)")
    root = tmp_path_factory.mktemp("wheel")
    source, dist, venv = root / "source", root / "dist", root / "venv"
    started = time.perf_counter()
    shutil.copytree(REPO, source, ignore=NOT_SOURCES, symlinks=True)
    _run([sys.executable, "-m", "build", "--outdir", dist, source], cwd=root)
    built = time.perf_counter()
    _run([sys.executable, "-m", "venv", venv], cwd=root)
    (wheel,) = dist.glob("hskit-*.whl")
    (sdist,) = dist.glob("hskit-*.tar.gz")
    python = venv / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, f"{wheel}[jupyter]"], cwd=root)
    done = time.perf_counter()
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(sdist, wheel, python, venv / "bin", elsewhere, built - started, done - built)


def test_the_sdist_holds_tests_samples_notebooks_and_docs(installed: Installed, figures) -> None:
    figures(
        f"python -m build (sdist, then wheel) {installed.build_time:.1f} s; fresh venv and "
        f"pip install of the wheel with [jupyter] {installed.install_time:.1f} s"
    )
    with tarfile.open(installed.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    missing = [name for name in SDIST_FILES if name not in names]
    assert not missing, missing
    zeek = [n for n in names if n.startswith("tests/data/zeek/traces/")]
    assert len(zeek) == len(list((REPO / "tests/data/zeek/traces").iterdir()))
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_holds_the_captures_and_manifest_but_not_their_scripts(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"hskit-{hskit.__version__}.dist-info/METADATA").decode()
    with (SAMPLE_DIR / "manifest.csv").open(newline="", encoding="utf-8") as file:
        captures = {row["file"] for row in csv.DictReader(file)}
    shipped = {n.removeprefix("hskit/sample_pcaps/") for n in names if "sample_pcaps/" in n}
    assert shipped == captures | {"manifest.csv"}
    assert not [n for n in names if n.startswith(("tests/", "sample_pcaps/", "notebooks/"))]
    assert f"Version: {hskit.__version__}\n" in metadata
    assert f"hskit-{hskit.__version__}.dist-info/licenses/LICENSE" in names


def test_hskit_version_and_demo_run_from_an_empty_folder(installed: Installed, figures) -> None:
    started = time.perf_counter()
    version = _run([installed.bin / "hskit", "--version"], cwd=installed.elsewhere).stdout
    assert version.strip() == f"hskit, version {hskit.__version__}"
    where = _run(
        [installed.python, "-c", "import hskit; print(hskit.__file__, hskit.samples.folder())"],
        cwd=installed.elsewhere,
    ).stdout.split()
    assert all(Path(p).is_relative_to(installed.python.parent.parent) for p in where), where
    demo = _run([installed.bin / "hskit", "demo", "--max-rows", "2"], cwd=installed.elsewhere)
    reported = [line for line in demo.stdout.splitlines() if line.startswith("== ")]
    assert len(reported) == len(hskit.samples.names())
    assert "== refused.pcap: 2 frames, 2 TCP segments, 1 connection" in reported
    assert list(installed.elsewhere.iterdir()) == []
    figures(f"installed wheel: {version.strip()}; demo {time.perf_counter() - started:.1f} s")
    figures("  " + "\n  ".join(demo.stdout.strip().splitlines()[:4]))


def test_a_notebook_runs_on_the_installed_wheels_kernel(installed: Installed, figures) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    probe = "import sys, hskit\nprint(sys.executable)\nprint(hskit.__file__)"
    notebook.cells.insert(0, nbformat.v4.new_code_cell(probe))
    copy = installed.elsewhere / "notebook" / NOTEBOOK.name
    copy.parent.mkdir()
    nbformat.write(notebook, copy)
    started = time.perf_counter()
    execute = ["nbconvert", "--to", "notebook", "--execute", "--output", "executed"]
    _run(
        [installed.bin / "jupyter", *execute, copy.name],
        cwd=copy.parent,
        JUPYTER_DATA_DIR=str(copy.parent / "jupyter-data"),  # no user-level kernels
    )
    elapsed = time.perf_counter() - started
    executed = nbformat.read(copy.parent / "executed.ipynb", as_version=4)
    kernel_python, hskit_file = executed.cells[0].outputs[0]["text"].split()
    venv = installed.python.parent.parent
    assert Path(kernel_python).is_relative_to(venv), kernel_python
    assert Path(hskit_file).is_relative_to(venv), hskit_file
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors
    figures(f"{NOTEBOOK.name} executed by the venv's jupyter nbconvert in {elapsed:.1f} s")


def test_the_wheel_reads_captures_with_its_built_loops_without_numba(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        loops = sorted(n for n in wheel.namelist() if n.startswith("hskit/_loops."))
    assert len(loops) == 2 and loops[0].endswith(".so"), loops
    assert loops[1] == "hskit/_loops.sources.json", loops
    code = (
        "import sys, hskit; from hskit import compiled; "
        "capture = hskit.load(hskit.samples.folder() / 'refused.pcap', progress=False); "
        "print(compiled.LOOPS, len(capture.segments), 'numba' in sys.modules)"
    )
    shown = _run([installed.python, "-c", code], cwd=installed.elsewhere).stdout.split()
    assert shown == ["built", "2", "False"]
