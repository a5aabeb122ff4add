"""hskit's loops compiled ahead of time (``hskit._loops``, built by ``setup.py``: the
native reader's and the TCP analysis's) are the ones in use, read and analyse captures
exactly as numba's JIT build of the same functions does, and refuse arguments of the
wrong type instead of misreading them."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit import compiled
from hskit.analysis import acks, rows, sequence
from hskit.native import kernels, numbering

TESTS = Path(__file__).resolve().parent
SAMPLES = TESTS.parent / "sample_pcaps"
#: the samples (pcap, pcapng, gzip; both byte orders, several link types) and the tests'
#: damaged and unusual captures (cut, corrupt lengths, not captures, odd blocks).
CAPTURES = sorted(
    str(path)
    for folder in (SAMPLES, TESTS / "data")
    for path in folder.iterdir()
    if path.name.endswith((".pcap", ".pcapng", ".gz"))
)


def read_all(paths: list[str]) -> dict[str, object]:
    """Each capture's segments, load report and TCP analysis, or the error its load
    raised."""
    tables: dict[str, object] = {}
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                capture = hskit.load(path, progress=False)
            except Exception as error:
                tables[path] = (type(error).__name__, str(error))
                continue
        tables[path] = (capture.segments, capture.load_report, hskit.analyze(capture.segments))
    return tables


def test_an_installed_hskit_reads_and_diagnoses_with_the_built_loops_without_numba() -> None:
    if os.environ.get("HSKIT_LOOPS") == "jit":
        pytest.skip("HSKIT_LOOPS=jit asks for numba's JIT build")
    assert compiled.LOOPS == "built", (
        "hskit._loops was not built: `pip install -e .` builds it (needs a C compiler)"
    )
    assert sorted(compiled.EXPORTED) == sorted(
        name for name in dir(compiled._BUILT) if name in compiled.EXPORTED
    )
    code = (
        "import sys, hskit; capture = hskit.load(sys.argv[1], progress=False); "
        "found = capture.diagnose(); loaded = set(sys.modules); "
        "print(len(capture.segments), len(found), 'numba' in loaded, 'llvmlite' in loaded)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code, str(SAMPLES / "loss.pcap")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert shown[2:] == ["False", "False"] and int(shown[0]) > 0 and int(shown[1]) > 0, shown


def test_every_loop_of_the_reader_is_exported_with_a_signature() -> None:
    loops = {
        name
        for module in (kernels, numbering, sequence, acks, rows)
        for name, value in vars(module).items()
        if isinstance(value, compiled.Loop)
    }
    assert loops == set(compiled.EXPORTED)
    assert {"walk_pcap", "walk_packets", "decode_tcp", "pair_ids", "_analyze", "_ack_rtt"} <= loops


def test_the_built_loops_read_and_analyse_every_capture_as_numbas_jit_build(tmp_path) -> None:
    if compiled.LOOPS != "built":
        pytest.skip("the built loops are not in use here: nothing to compare")
    out = tmp_path / "jit.pickle"
    code = (
        "import pickle, sys; sys.path.insert(0, sys.argv[1]); import test_compiled_loops as t; "
        "from hskit import compiled; assert compiled.LOOPS == 'jit'; "
        "open(sys.argv[2], 'wb').write(pickle.dumps(t.read_all(sys.argv[3:])))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(TESTS), str(out), *CAPTURES],
        env={**os.environ, "HSKIT_LOOPS": "jit"},
        check=True,
        timeout=600,
    )
    jit = pickle.loads(out.read_bytes())
    built = read_all(CAPTURES)
    assert list(built) == list(jit) == CAPTURES and len(CAPTURES) > 40
    errors = 0
    for path in CAPTURES:
        if isinstance(built[path][0], str):
            errors += 1
            assert built[path] == jit[path], path
            continue
        segments, report, analysis = built[path]
        pd.testing.assert_frame_equal(segments, jit[path][0], obj=path)
        assert report == jit[path][1], path
        pd.testing.assert_frame_equal(analysis, jit[path][2], obj=f"analysis of {path}")
    assert 0 < errors < len(CAPTURES) / 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            (np.zeros(4, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int64)),
            "word_sums: argument 1 must be a contiguous 1-d uint8 array, not a 1-d int32 array",
        ),
        (
            (np.zeros(8, np.uint8)[::2], np.zeros(1, np.int64), np.zeros(1, np.int64)),
            "argument 1 must be a contiguous 1-d uint8 array, not a non-contiguous 1-d uint8",
        ),
        (
            (np.zeros((2, 4), np.uint8), np.zeros(1, np.int64), np.zeros(1, np.int64)),
            "argument 1 must be a contiguous 1-d uint8 array, not a 2-d uint8 array",
        ),
        ((np.zeros(4, np.uint8), [0], np.zeros(1, np.int64)), "argument 2 must be a contig"),
        ((np.zeros(4, np.uint8), np.zeros(1, np.int64)), "word_sums takes 3 arguments, not 2"),
    ],
)
def test_a_loop_refuses_arguments_of_another_type(arguments: tuple, message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(")):
        kernels.word_sums(*arguments)


def test_scalars_and_tuples_are_checked_too() -> None:
    slots, keys = np.full(8, -1, np.int32), np.zeros(4, np.int64)
    ids = np.empty(1, np.int64)
    args = (np.array([5]), np.array([1]), slots, keys, keys.copy())
    assert numbering.pair_ids(*args, np.int64(0), ids) == 1
    with pytest.raises(TypeError, match="argument 6 must be an integer, not float"):
        numbering.pair_ids(*args, 0.0, ids)
    with pytest.raises(TypeError, match="argument 6 must be a 64-bit integer, not int"):
        numbering.pair_ids(*args, 1 << 63, ids)
    with pytest.raises(TypeError, match="argument 5 must be a bool, not int"):
        kernels.walk_pcap(np.zeros(8, np.uint8), 8, 0, 0, 1, 8, np.zeros((5, 1), np.int64))
    plan = np.zeros((1, 4), np.int64)
    empty = np.zeros(0, np.int64)
    with pytest.raises(TypeError, match=r"argument 8 must be a tuple of 23, not tuple"):
        kernels.decode_tcp(
            np.zeros(8, np.uint8), empty, empty, empty, np.zeros(0, np.int32), plan, empty, ()
        )


def test_a_signature_names_its_arguments_at_the_top_level() -> None:
    assert compiled._arguments(
        "UniTuple(int64, 2)(uint8[::1], int64[:, :], Tuple((int8[::1], boolean)), int64)"
    ) == ["uint8[::1]", "int64[:, :]", "Tuple((int8[::1], boolean))", "int64"]
    check = compiled._check("int64[:, :]")
    assert check(np.zeros((3, 4), np.int64)[:, ::2]) is None  # any layout
    assert check(np.zeros((3, 4), np.int32)) == "a 2-d int64 array"


def test_the_built_module_records_its_sources_and_is_refused_once_they_change(tmp_path) -> None:
    if compiled.LOOPS != "built":
        pytest.skip("the built loops are not in use here")
    package = Path(compiled.__file__).parent
    assert compiled.source_digests() == json.loads((package / compiled.BUILT_FROM).read_text())
    assert set(compiled.source_digests()) == {
        "native/kernels.py", "native/numbering.py", "analysis/sequence.py",
        "analysis/acks.py", "analysis/rows.py", "analysis/window.py",
    }  # fmt: skip
    copy = tmp_path / "hskit"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    code = "from hskit import compiled; print(compiled.LOOPS)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def loops() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert loops().stdout.split() == ["built"]
    with (copy / "analysis" / "window.py").open("a") as source:
        source.write("# changed after the build\n")
    changed = loops()
    assert changed.stdout.split() == ["jit"]
    assert "hskit._loops was built from other sources than analysis/window.py" in changed.stderr
