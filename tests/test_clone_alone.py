"""A plain ``git clone`` of the repository, with nothing beside it, runs the test suite.

The repository (its HEAD commit) is cloned into an empty temporary folder; there the
whole suite must be collected without an error, and a fast subset (the Zeek oracle,
the samples, the demo) must pass, with the clone's own code on ``PYTHONPATH``. So no
test may read anything outside the repository, such as ``../shared``.

It needs git and a git checkout: without them it fails in CI and skips elsewhere (for
example when the tests run from an sdist).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, unavailable

#: run in the clone: quick, and together they read the Zeek oracle, the samples and the CLI.
FAST_SUBSET = (
    "tests/test_zeek_oracle.py",
    "tests/test_zeek_oracle_data.py",
    "tests/test_samples.py",
    "tests/test_cli_demo.py",
)


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        unavailable("git is not installed; the clone test needs it")
    top = subprocess.run(
        [git, "-C", str(REPO), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
        unavailable(
            f"{REPO} is not a git checkout (tests run from an sdist or a copy?): the clone "
            "test clones the repository and needs its .git"
        )
    return git


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in the clone, importing hskit from the clone."""
    env = {**os.environ, "PYTHONPATH": str(clone)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_clone_with_nothing_beside_it_collects_everything_and_passes(tmp_path, figures):
    git = _git()
    clone = tmp_path / "alone" / "hskit"
    started = time.perf_counter()
    subprocess.run([git, "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=300)
    head = subprocess.run(
        [git, "-C", str(clone), "log", "-1", "--format=%h"], capture_output=True, text=True
    ).stdout.strip()
    assert sorted(p.name for p in clone.parent.iterdir()) == ["hskit"]
    cloned = time.perf_counter()

    collected = _pytest(clone, "--collect-only", "-q")
    summary = collected.stdout.strip().splitlines()[-1] if collected.stdout.strip() else ""
    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-4000:]
    assert re.fullmatch(r"\d+ tests collected in [\d.]+s", summary), summary
    assert " error" not in collected.stdout.lower(), collected.stdout[-4000:]
    listed = time.perf_counter()

    ran = _pytest(clone, "-q", "-x", *FAST_SUBSET)
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-3000:]
    done = time.perf_counter()
    figures(f"clone of {head}: {summary}; fast subset: {ran.stdout.strip().splitlines()[-1]}")
    figures(
        f"clone {cloned - started:.1f} s, collect {listed - cloned:.1f} s, "
        f"subset {done - listed:.1f} s"
    )
