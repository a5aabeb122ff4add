"""Classification speed: ``hskit.classify`` (connections and states) on the loopback capture.

    python benchmarks/classify.py                 # the cached loopback capture
    python benchmarks/classify.py some.pcap --repeat 5

Prints, best of ``--repeat`` runs each:

- classify throughput in segments per second, as ``hskit.classify`` runs (Zeek's
  ``conn_state``/``history``, and Wireshark's analysis, on a second thread when there
  are two CPUs), on one thread, and with the analysis given (as ``Capture`` does, which
  computes it once for ``cap.analysis`` and the connections); the public
  :func:`hskit.classify.zeek.zeek_conn_fields` alone, and :func:`hskit.analyze`
  (Wireshark's per-segment analysis, compiled ahead of time) alone, steady;
- :func:`hskit.analyze`'s first call in a fresh interpreter (loading the compiled
  loops: ``hskit._loops``, or numba's import and JIT cache with ``HSKIT_LOOPS=jit``);
- a scaling run: the segments repeated 1x, 2x, 4x, 8x (each copy with its own streams,
  client ports, frames and later times), time per segment at each size — flat when the
  cost is linear in the segments; best of at least 3 runs at every size, since a single
  run on a table never classified before also measures the kernel handing the process
  fresh memory pages;
- ``hskit summary FILE`` as a whole process (interpreter start, load, classify, print);

then the targets and whether they are met. The capture is made by
``benchmarks/make_capture.py`` when it is not cached yet.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import hskit
from hskit.classify import classify
from hskit.classify.zeek import zeek_conn_fields

classify_package = sys.modules["hskit.classify"]
HERE = Path(__file__).resolve().parent
TARGET_SEGMENTS_PER_SECOND = 5_000_000
TARGET_SUMMARY_SECONDS = 1.0
SCALES = (1, 2, 4, 8)


def best_seconds(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Wall and CPU seconds of the fastest of ``repeat`` calls (each the least disturbed
    by other work; on a busy machine CPU time is the steadier figure)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def repeated(segments: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``segments`` ``copies`` times over, each copy a new set of connections later in time.

    >>> from hskit.classify.synthetic import Conversation, segments as build
    >>> len(repeated(build(Conversation().client("S")), 3)["stream"].unique())
    3
    """
    streams = int(segments["stream"].max()) + 1
    span = float(segments["time"].max()) + 1.0
    frames = int(segments["frame"].max())
    parts = []
    for copy in range(copies):
        part = segments.copy()
        part["stream"] = part["stream"] + np.uint32(copy * streams)
        part["frame"] = part["frame"] + np.uint32(copy * frames)
        part["time"] = part["time"] + copy * span
        part["ts"] = part["ts"] + pd.Timedelta(seconds=copy * span)
        # a distinct client port per copy keeps the 4-tuples apart
        shift = np.where(part["from_client"], "src_port", "dst_port")
        for column in ("src_port", "dst_port"):
            moved = part[column].to_numpy().astype(np.int64) + 7 * copy * (shift == column)
            part[column] = (moved % 65536).astype(np.uint16)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def first_analyze_seconds(capture: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the first :func:`hskit.analyze` of ``capture``'s segments
    in a fresh interpreter (loaded beforehand), as that interpreter measures them."""
    script = (
        "import sys, time, hskit\n"
        "segments = hskit.load(sys.argv[1], progress=False).segments\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        "hskit.analyze(segments)\n"
        "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(capture)], check=True, capture_output=True, text=True
    )
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def summary_seconds(capture: Path, repeat: int) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``hskit summary FILE`` in a fresh
    interpreter, best of ``repeat``."""
    command = [
        sys.executable,
        "-c",
        "import sys; from hskit.cli import classify_commands, main; main(sys.argv[1:])",
        "summary",
        str(capture),
    ]
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(walls), min(cpus)


def cached_capture() -> Path:
    """The loopback benchmark capture, made first when missing."""
    made = subprocess.run(
        [sys.executable, str(HERE / "make_capture.py")], check=True, capture_output=True, text=True
    )
    return Path(made.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", type=Path, help="default: the loopback capture")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    args = parser.parse_args()
    capture = args.capture or cached_capture()

    segments = hskit.load(capture, progress=False).segments
    streams = int(segments["stream"].nunique())
    print(f"{capture}: {len(segments):,} segments, {streams:,} streams")

    count = len(segments)
    first_call, first_call_cpu = first_analyze_seconds(capture)
    analysis, analysis_cpu = best_seconds(lambda: hskit.analyze(segments), args.repeat)
    analysed = hskit.analyze(segments)
    whole, whole_cpu = best_seconds(lambda: classify(segments), args.repeat)
    with one_thread():
        serial, serial_cpu = best_seconds(lambda: classify(segments), args.repeat)
    given, given_cpu = best_seconds(lambda: classify(segments, analysis=analysed), args.repeat)
    zeek, zeek_cpu = best_seconds(lambda: zeek_conn_fields(segments), args.repeat)
    rate = count / whole
    cpus = len(os.sched_getaffinity(0))
    print(f"{'':47} wall ms   CPU ms   M segments/s (wall, CPU)")
    for name, wall, cpu in (
        (f"classify, {cpus} CPUs (Zeek fields on a 2nd thread)", whole, whole_cpu),
        ("classify, one thread", serial, serial_cpu),
        ("classify, analysis given (as Capture does)", given, given_cpu),
        ("zeek_conn_fields alone (sorting on its own)", zeek, zeek_cpu),
        ("analyze alone (Wireshark's tcp.analysis.*)", analysis, analysis_cpu),
    ):
        print(f"{name:<47} {wall * 1e3:8.1f} {cpu * 1e3:8.1f}   "
              f"{count / wall / 1e6:6.2f} {count / cpu / 1e6:6.2f}")  # fmt: skip

    print(f"analyze, first call in a fresh process: {first_call:.2f} s wall, "
          f"{first_call_cpu:.2f} s CPU (imports and loading the compiled loops)")  # fmt: skip

    print("scaling (segments repeated with shifted streams, ports, frames, times):")
    for copies in SCALES:
        table = repeated(segments, copies)
        wall, cpu = best_seconds(lambda table=table: classify(table), max(3, args.repeat // copies))
        print(f"  {copies}x {len(table):>10,} segments  {wall * 1e3:9.1f} ms  "
              f"{wall / len(table) * 1e9:7.1f} ns/segment wall, "
              f"{cpu / len(table) * 1e9:7.1f} CPU")  # fmt: skip

    summary, summary_cpu = summary_seconds(capture, max(1, args.repeat // 2))
    print(f"hskit summary, whole process: {summary:.2f} s wall, {summary_cpu:.2f} s CPU")

    print("targets:")
    target = TARGET_SEGMENTS_PER_SECOND
    print(f"  classify >= {target / 1e6:.0f} M segments/s: {verdict(rate >= target)} "
          f"({rate / 1e6:.2f} M/s; one thread {count / serial / 1e6:.2f} M/s)")  # fmt: skip
    analyzed = count / analysis
    print(f"  analyze >= {target / 1e6:.0f} M segments/s: {verdict(analyzed >= target)} "
          f"({analyzed / 1e6:.2f} M/s)")  # fmt: skip
    print(f"  hskit summary <= {TARGET_SUMMARY_SECONDS:.1f} s: "
          f"{verdict(summary <= TARGET_SUMMARY_SECONDS)}")  # fmt: skip


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, :func:`hskit.classify` runs on the calling thread only."""
    saved = classify_package.PARALLEL_MIN_SEGMENTS
    classify_package.PARALLEL_MIN_SEGMENTS = sys.maxsize
    try:
        yield
    finally:
        classify_package.PARALLEL_MIN_SEGMENTS = saved


def verdict(met: bool) -> str:
    """``met`` or ``NOT met``."""
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
