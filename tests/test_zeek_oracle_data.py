"""The Zeek oracle in ``tests/data/zeek`` is whole, unchanged, and in step with the shared one.

The copy is made by ``tests/data/zeek/sync.py``; these tests run its check: every trace
has the SHA-1 the oracle's manifest gives it, every file the SHA-1 recorded when it was
copied, and nothing is missing or extra. Where the project's shared oracle sits beside
the checkout (``../shared/zeek-oracle``), the copy must equal it byte for byte: run the
script to refresh it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ZEEK_ORACLE_DIR, ZEEK_TRACES


def _sync_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zeek_oracle_sync", ZEEK_ORACLE_DIR / "sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _sync_script()


def test_every_trace_and_baseline_has_its_recorded_sha1(figures) -> None:
    problems = sync.check(ZEEK_ORACLE_DIR)
    figures(
        f"{len(sync.oracle_files(ZEEK_ORACLE_DIR))} oracle files checked, {len(problems)} problems"
    )
    assert not problems, "\n".join(problems)


def test_the_tests_read_the_oracle_from_the_repository() -> None:
    manifest = sync.manifest_rows(ZEEK_ORACLE_DIR)
    assert len(ZEEK_TRACES) == len(manifest) > 0
    assert {path.name for path in ZEEK_TRACES} == {Path(r["trace_file"]).name for r in manifest}
    assert all(path.is_relative_to(sync.REPO) for path in ZEEK_TRACES)


def test_a_changed_byte_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "zeek"
    shutil.copytree(ZEEK_ORACLE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert sync.check(copy) == []
    trace = copy / sync.manifest_rows(copy)[0]["trace_file"]
    data = bytearray(trace.read_bytes())
    data[-1] ^= 0xFF
    trace.write_bytes(bytes(data))
    (copy / "expected" / "stray.csv").write_text("ts\n", encoding="utf-8")
    problems = sync.check(copy)
    assert f"{trace.relative_to(copy).as_posix()}: SHA-1 differs from manifest.csv" in problems
    assert "expected/stray.csv: not in manifest.csv" in problems


@pytest.mark.skipif(
    not (sync.SHARED / "manifest.csv").is_file(),
    reason=f"no shared Zeek oracle beside this checkout ({sync.SHARED})",
)
def test_the_copy_equals_the_shared_oracle() -> None:
    differences = sync.differences(sync.SHARED, ZEEK_ORACLE_DIR)
    assert not differences, (
        "tests/data/zeek differs from ../shared/zeek-oracle; refresh it with "
        "`python tests/data/zeek/sync.py`:\n" + "\n".join(differences)
    )
