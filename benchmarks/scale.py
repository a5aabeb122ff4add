"""How hskit scales with the capture's size: seconds, segments/s and peak memory.

Builds once, in ``~/.cache/hskit-bench`` (outside the repository), from the capture of
``make_capture.py`` (~470k packets of loopback TCP):

- ``base.pcapng``: that capture in pcapng (``editcap -F pcapng``);
- ``copies-Nx.pcapng``: N copies of it, each shifted in time past the one before
  (``editcap -t``), joined by ``mergecap -a`` (8x: about 3.8M packets, 16x: 7.5M);
- ``copies-Nx.pcap``: the same packets in pcap, for the pcap vs pcapng rate;
- ``copies-Nx-ring/``: the N shifted copies as files of one capture set (a ring of N).

Then, for each size, every measurement in a fresh process (its peak RSS is its own):
``hskit.load`` (pcapng, pcap, and the ring as a capture set), ``hskit summary`` as a whole
process, and ``hskit convert`` to a Parquet dataset; with the size of the segments
table. ``--convert-cap MB`` also runs the largest convert in a memory cgroup (v1) limited
to MB (page cache included, no swap): it must complete though the capture is larger.
An address-space cap (``prlimit --as``) is no use here: pandas, pyarrow and their
threads reserve over a gigabyte of address space they never touch.

    python benchmarks/scale.py                  # sizes 1, 2, 4, 8
    python benchmarks/scale.py --sizes 1,2      # a quick run
    python benchmarks/scale.py --sizes 8,16 --convert-cap 1500

Copies of one capture repeat its 4-tuples and sequence numbers, so a later copy's SYN
continues the earlier copy's connection (as Wireshark sees it) rather than opening a new
one: the number of connections does not grow with N, the number of segments does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path.home() / ".cache" / "hskit-bench"
#: seconds between the copies' time ranges (longer than the base capture lasts).
SHIFT_SECONDS = 3600
#: how a measurement loads hskit: from this checkout.
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

#: every measured process reports its own peak RSS on stderr as it exits.
PRELUDE = """
import atexit, resource, sys
atexit.register(lambda: print("PEAK_KB=%d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                              file=sys.stderr))
"""
LOAD = (
    PRELUDE
    + """
import json, sys, time, hskit
paths = sys.argv[1:]
start = time.perf_counter()
cap = hskit.load(paths[0] if len(paths) == 1 else paths, backend="native", progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "segments": len(cap.segments),
                  "table_bytes": int(cap.segments.memory_usage(deep=True).sum())}))
"""
)
CLI = PRELUDE + "from hskit.cli import main; main()"


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def run(args: list[str], prefix: list[str] | None = None) -> Run:
    """Run a command, return wall seconds, its peak RSS (MB) and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [*(prefix or []), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True
    )
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed: {err.strip()[-500:]}")
    peak = [line for line in err.splitlines() if line.startswith("PEAK_KB=")]
    return Run(seconds, int(peak[-1].removeprefix("PEAK_KB=")) / 1024, out)


@contextlib.contextmanager
def memory_cgroup(limit_mb: int) -> Iterator[Path]:
    """A cgroup v1 memory group limited to ``limit_mb`` (no swap); yields its procs file."""
    group = Path("/sys/fs/cgroup/memory") / f"hskit-scale-{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
        swap = group / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(limit_mb * 2**20))
        yield group / "cgroup.procs"
    finally:
        group.rmdir()


def base_capture() -> Path:
    """The capture of make_capture.py (made if missing: needs root, up to 10 minutes)."""
    sys.path.insert(0, str(HERE))
    from make_capture import CACHE as BASE

    if not BASE.exists():
        subprocess.run([sys.executable, str(HERE / "make_capture.py")], check=True)
    return BASE


def build(sizes: list[int]) -> None:
    """The scaled captures, rings and pcap copies (kept between runs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    base = CACHE / "base.pcapng"
    if not base.exists():
        subprocess.run(["editcap", "-F", "pcapng", str(base_capture()), str(base)], check=True)
    for n in sizes:
        ring = CACHE / f"copies-{n}x-ring"
        if not ring.exists():
            partial = CACHE / f".{ring.name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            for k in range(n):
                target = partial / f"ring_{k:05d}.pcapng"
                subprocess.run(
                    ["editcap", "-t", str(k * SHIFT_SECONDS), str(base), str(target)], check=True
                )
            partial.rename(ring)
        merged = CACHE / f"copies-{n}x.pcapng"
        if not merged.exists():
            files = sorted(map(str, ring.iterdir()))
            subprocess.run(["mergecap", "-a", "-w", f"{merged}.partial", *files], check=True)
            Path(f"{merged}.partial").rename(merged)
        as_pcap = CACHE / f"copies-{n}x.pcap"
        if not as_pcap.exists():
            subprocess.run(["editcap", "-F", "pcap", str(merged), f"{as_pcap}.partial"], check=True)
            Path(f"{as_pcap}.partial").rename(as_pcap)


def measure(n: int, convert_cap_mb: int | None) -> list[tuple[str, ...]]:
    """Rows of the table for one size."""
    rows = []
    merged = CACHE / f"copies-{n}x.pcapng"
    ring = sorted(map(str, (CACHE / f"copies-{n}x-ring").iterdir()))
    segments = 0
    for what, paths in (
        ("load pcapng", [str(merged)]),
        ("load pcap", [str(CACHE / f"copies-{n}x.pcap")]),
        (f"load ring of {n}", ring),
    ):
        done = run([sys.executable, "-c", LOAD, *paths])
        facts = json.loads(done.output)
        segments = facts["segments"]
        rows.append(_row(n, what, facts["seconds"], segments, done.peak_mb,
                         f"table {facts['table_bytes'] / 2**20:.0f} MB"))  # fmt: skip
    done = run([sys.executable, "-c", CLI, "summary", str(merged)])
    rows.append(_row(n, "hskit summary", done.seconds, segments, done.peak_mb, "whole process"))
    with tempfile.TemporaryDirectory(prefix="hskit-scale-") as folder:
        dataset = Path(folder) / "dataset"
        done = run([sys.executable, "-c", CLI, "convert", str(merged), "-o", str(dataset)])
        size = sum(p.stat().st_size for p in dataset.rglob("*") if p.is_file())
        rows.append(_row(n, "hskit convert", done.seconds, segments, done.peak_mb,
                         f"dataset {size / 2**20:.0f} MB"))  # fmt: skip
        if convert_cap_mb:
            capped = Path(folder) / "capped"
            with memory_cgroup(convert_cap_mb) as procs:
                prefix = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]
                done = run([sys.executable, "-c", CLI, "convert", str(merged), "-o", str(capped)],
                           prefix=prefix)  # fmt: skip
            capture_mb = merged.stat().st_size / 2**20
            rows.append(_row(n, f"convert in {convert_cap_mb} MB cgroup", done.seconds, segments,
                             done.peak_mb, f"capture {capture_mb:.0f} MB"))  # fmt: skip
    return rows


def _row(
    n: int, what: str, seconds: float, segments: int, peak_mb: float, note: str
) -> tuple[str, ...]:
    return (f"{n}x", what, f"{seconds:.2f}", f"{segments:,}", f"{segments / seconds / 1e6:.2f}",
            f"{peak_mb:.0f}", note)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8", help="multiples of the base capture")
    parser.add_argument(
        "--build-only", action="store_true", help="make the captures, measure nothing"
    )
    parser.add_argument("--convert-cap", type=int, default=None, metavar="MB",
                        help="also convert the largest size under prlimit --as=MB")  # fmt: skip
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.sizes.split(","))
    build(sizes)
    if args.build_only:
        return
    header = ("size", "what", "seconds", "segments", "M seg/s", "peak RSS MB", "")
    print(" | ".join(header), flush=True)
    for n in sizes:
        cap = args.convert_cap if n == sizes[-1] else None
        for row in measure(n, cap):
            print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
