"""Dask benchmark: in-memory ``hskit.load`` + classify against ``hskit.dask`` on 1 and 2
worker processes, on a capture set of >= 4M packets.

    python benchmarks/dask.py                      # a ring of 10 copies of the loopback capture
    python benchmarks/dask.py --copies 2           # a smaller ring, for a quick look
    python benchmarks/dask.py --base some.pcap --workers 1 2
    python benchmarks/dask.py --copies 1 --workers 2 --no-in-memory   # peak RSS per worker at
    python benchmarks/dask.py --copies 3 --workers 2 --no-in-memory   # two capture sizes
    python benchmarks/dask.py --copies 3 --workers 2 --no-in-memory --diagnose

The ring is ``--copies`` copies of the benchmark capture (``benchmarks/make_capture.py``),
each shifted in time after the previous one with ``editcap -t`` (as ``dumpcap -b`` would
rotate them), cached outside the repository. Prints for each run: wall time, peak RSS (the
in-memory process; each Dask worker process), and for Dask the share of the workers' task
time spent in each stage — reading, the shuffle, conversation numbering, classifying.
Then the issue's targets and whether they are met. The shuffle has one partition per file
and the files are the same size whatever ``--copies``: peak RSS per worker bounded by
partition size (not by capture size) shows as the same peak at two ``--copies``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this file is named dask.py: keep its folder off the path so ``import dask`` finds Dask
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import pandas as pd  # noqa: E402

CACHE = Path.home() / ".cache" / "hskit-bench"
MIN_PACKETS = 4_000_000
TARGET_SPEEDUP = 1.5  # 2 workers against 1
TARGET_OVERHEAD = 2.0  # Dask on 1 worker against in-memory
#: task names of each stage (``dask.utils.key_split`` of the task keys, which drops
#: leading underscores); the first stage whose name is part of the task's wins.
STAGES = {
    "read": ("hskit-read", "count_frames"),
    "numbering": ("split_conversations", "summary", "catalog_of"),
    "classify": ("classify_part",),
    "shuffle": ("shuffle", "p2p", "barrier", "with_pair", "to_string_dtype"),
}


def base_capture(chosen: Path | None) -> Path:
    """``chosen``, or the loopback capture of ``benchmarks/make_capture.py`` (made once)."""
    if chosen is not None:
        return chosen
    made = subprocess.run(
        [sys.executable, str(HERE / "make_capture.py")], check=True, capture_output=True, text=True
    )
    return Path(made.stdout.strip().splitlines()[-1])


def ring(base: Path, copies: int) -> list[Path]:
    """``copies`` time-shifted copies of ``base`` (cached), like a rotated capture."""
    folder = CACHE / f"dask-ring-{base.stem}-{copies}x"
    folder.mkdir(parents=True, exist_ok=True)
    span = _span_seconds(base) + 1.0
    files = []
    for number in range(copies):
        path = folder / f"ring_{number:05d}.pcap"
        if not path.exists():
            partial = path.with_suffix(".part")
            shift = f"{number * span:.6f}"
            subprocess.run(
                ["editcap", "-F", "pcap", "-t", shift, str(base), str(partial)], check=True
            )
            partial.rename(path)
        files.append(path)
    return files


def _span_seconds(path: Path) -> float:
    info = subprocess.run(
        ["capinfos", "-T", "-u", "-M", str(path)], capture_output=True, text=True, check=True
    )
    return float(info.stdout.strip().splitlines()[-1].split("\t")[-1])


def in_memory(files: list[Path]) -> dict[str, float]:
    """``hskit.load`` of the set, connections and states, in a fresh process."""
    code = (
        "import resource, sys, time, hskit\n"
        "start = time.perf_counter()\n"
        "cap = hskit.load(sys.argv[1:], progress=False)\n"
        "rows = len(cap.segments); cap.connections; cap.states\n"
        "print(time.perf_counter() - start, rows, len(cap.connections),\n"
        "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True, check=True
    )
    seconds, rows, connections, peak_kb = done.stdout.split()
    return {
        "seconds": float(seconds),
        "segments": int(rows),
        "connections": int(connections),
        "peak_mb": int(peak_kb) / 1024,
    }


def on_dask(files: list[Path], workers: int) -> dict[str, object]:
    """``hd.classify`` of the set on a LocalCluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster, get_task_stream

    import hskit.dask as hd

    with (
        LocalCluster(n_workers=workers, processes=True, threads_per_worker=1) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        start = time.perf_counter()
        connections, _ = hd.compute(*hd.classify(hd.read_segments(files)))
        seconds = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {
        "seconds": seconds,
        "connections": len(connections),
        "peak_mb": sorted(kb / 1024 for kb in peaks.values()),
        "stages": stage_shares(stream.data),
    }


def diagnose_on_dask(files: list[Path], workers: int) -> dict[str, float]:
    """``hd.diagnose`` of the set on a LocalCluster of ``workers`` processes, from a fresh
    driver process: wall time and the driver's peak RSS before and after (the driver
    gathers connections, states and per-stream evidence, no segments)."""
    code = (
        "import resource, sys, time\n"
        "from dask.distributed import Client, LocalCluster\n"
        "import hskit.dask as hd\n"
        "def mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "if __name__ == '__main__':\n"
        "    with LocalCluster(n_workers=int(sys.argv[1]), processes=True,\n"
        "                      threads_per_worker=1) as cluster, Client(cluster):\n"
        "        before = mb(); start = time.perf_counter()\n"
        "        findings = hd.diagnose(hd.read_segments(sys.argv[2:]))\n"
        "        print(time.perf_counter() - start, before, mb(), len(findings))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(workers), *map(str, files)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds, before, after, findings = done.stdout.split()
    return {
        "seconds": float(seconds),
        "driver_before_mb": float(before),
        "driver_peak_mb": float(after),
        "findings": int(findings),
    }


def stage_shares(tasks: list[dict]) -> dict[str, float]:
    """Share of the workers' compute time per stage (the rest as ``other``)."""
    from dask.utils import key_split

    seconds: defaultdict[str, float] = defaultdict(float)
    for task in tasks:
        name = key_split(task["key"])
        stage = next(
            (s for s, prefixes in STAGES.items() if any(p in name for p in prefixes)), "other"
        )
        for span in task["startstops"]:
            if span["action"] == "compute":
                seconds[stage] += span["stop"] - span["start"]
    total = sum(seconds.values()) or 1.0
    return {stage: seconds[stage] / total for stage in [*STAGES, "other"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=None, help="the capture to copy")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--no-in-memory", action="store_true", help="Dask runs only (peak RSS per worker)"
    )
    parser.add_argument(
        "--diagnose", action="store_true", help="also hd.diagnose on the most workers"
    )
    args = parser.parse_args()
    files = ring(base_capture(args.base), args.copies)
    sizes = [f.stat().st_size / 1e6 for f in files]
    print(
        f"capture set: {len(files)} files, {sum(sizes):.0f} MB "
        f"(a shuffle partition per file, largest file {max(sizes):.0f} MB)"
    )

    memory = None if args.no_in_memory else in_memory(files)
    if memory is not None:
        print(
            f"in memory      {memory['seconds']:7.1f} s  peak RSS {memory['peak_mb']:6.0f} MB  "
            f"({memory['segments']:,} segments, {memory['connections']:,} connections)"
        )
        if memory["segments"] < MIN_PACKETS:
            print(f"note: fewer than {MIN_PACKETS:,} segments; the issue measures >= 4M")
    runs = {}
    for workers in args.workers:
        run = on_dask(files, workers)
        runs[workers] = run
        if memory is not None:
            assert run["connections"] == memory["connections"], "Dask and in-memory disagree"
        peaks = ", ".join(f"{mb:.0f}" for mb in run["peak_mb"])  # type: ignore[union-attr]
        shares = ", ".join(f"{stage} {share:.0%}" for stage, share in run["stages"].items())  # type: ignore[union-attr]
        print(
            f"dask {workers} worker{'s' if workers > 1 else ' '}  {run['seconds']:7.1f} s  "
            f"peak RSS per worker {peaks} MB  task time: {shares}"
        )

    if args.diagnose:
        workers = max(args.workers)
        found = diagnose_on_dask(files, workers)
        print(
            f"dask diagnose, {workers} worker(s): {found['seconds']:.1f} s, "
            f"{found['findings']} findings; driver peak RSS {found['driver_before_mb']:.0f} MB "
            f"before, {found['driver_peak_mb']:.0f} MB after (no segments gathered)"
        )

    table = pd.Series(
        {
            **({} if memory is None else {"in memory": memory["seconds"]}),
            **{f"dask, {w} worker(s)": r["seconds"] for w, r in runs.items()},
        }
    )
    print("\nwall seconds (loaded machine):\n" + table.round(1).to_string())
    if 1 in runs and memory is not None:
        overhead = runs[1]["seconds"] / memory["seconds"]  # type: ignore[operator]
        verdict = "met" if overhead <= TARGET_OVERHEAD else "NOT met"
        print(
            f"Dask 1 worker / in memory: {overhead:.2f}x (target <= {TARGET_OVERHEAD}x: {verdict})"
        )
    if 1 in runs and 2 in runs:
        speedup = runs[1]["seconds"] / runs[2]["seconds"]  # type: ignore[operator]
        verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
        print(f"2 workers vs 1: {speedup:.2f}x faster (target >= {TARGET_SPEEDUP}x: {verdict})")


if __name__ == "__main__":
    main()
