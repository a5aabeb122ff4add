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
process, and ``hskit convert`` to a Parquet dataset; with microseconds per segment, the
size of the segments table and the load target (peak RSS at most 1.5x the table plus
the chunk size), and the pcapng/pcap rate of the same packets. A load's ``us/seg`` is its
first call in a fresh process (loading the compiled loops and first-call costs included;
hskit's modules compiled to bytecode first, as an installed copy has them);
``steady us/seg`` is the fastest of three loads of the same capture in another fresh
process after a warm-up load of the 1x capture of the same kind, so start-up costs are
not spread over the segments (the steady state of a notebook that loads again).
``hskit convert``'s ``us/seg`` is the command as a whole process; its ``steady us/seg``
times ``hskit.convert`` in another process after a warm-up convert of the 1x capture.
``load's own peak MB`` is the peak RSS during the load less the RSS just before it (the
kernel's ``VmHWM``, reset through ``/proc/self/clear_refs``): *fresh* in the first
process (the compiled loops' first load included), *warm* in a third process after
loading small sample captures of both formats (the interpreter, pandas and the loops
are then the baseline, not the load's). ``peak RSS MB`` is the whole process's.

``--fresh-rounds R`` (default 15): each kind's load as a fresh process's first call at the
smallest and the largest size, taken in turn R times; the median µs/segment of each and
their ratio say whether a first call's time per segment is flat with the size (one
fresh call per size, above, is at the mercy of the minute it runs in). Each median comes
with the range of the R calls, the system CPU time's too: on a VM, the kernel's time to
provide a fresh process's memory varies far more than the reader's own (user) time.

``--steady-rounds R`` (default 20): pcap and pcapng at the smallest and the largest size
loaded in turn in one process after a warm-up, R rounds of two loads each: best and
median µs/segment, the large/small ratios (time per segment flat?) and the pcapng/pcap
rates, measured in the same minutes (single steady figures in separate processes, in
the table, vary by 20-40 % from run to run; with 5 and 6 rounds the 8x / 1x medians
still swung from 0.73 to 1.25 within one run, hence the defaults). Beside the wall
time, each load's user and system CPU time per segment and its page faults per MB of
table (``getrusage``): the kernel's share, first touching the table's pages, depends on
the page size it gives, and NumPy asks for huge pages (``madvise``) only for arrays of
4 MB or more.

``--convert-cap MB`` also runs ``hskit summary`` and ``hskit convert`` of the
``--cap-sizes`` captures (default: the two largest sizes), with their defaults, inside a
memory cgroup limited to MB (cgroup v1
``memory.limit_in_bytes`` with swap, or v2 ``memory.max`` with ``memory.swap.max`` 0;
page cache included): each row says whether it completed, and its peak RSS, which must
not grow with the capture though the capture is 4x the cap.
An address-space cap (``prlimit --as``) is no use here: pandas, pyarrow and their
threads reserve over a gigabyte of address space they never touch.

    python benchmarks/scale.py                  # sizes 1, 2, 4, 8
    python benchmarks/scale.py --sizes 1,2      # a quick run
    python benchmarks/scale.py --sizes 1 --cap-sizes 10,20 --convert-cap 256
    python benchmarks/scale.py --sizes 4,8,16,28 --only convert   # convert's peak by size

Copies of one capture repeat its 4-tuples and sequence numbers, so a later copy's SYN
continues the earlier copy's connection (as Wireshark sees it) rather than opening a new
one: the number of connections does not grow with N, the number of segments does.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import shutil
import statistics
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
#: hskit's default chunk size (MB), in the load target.
CHUNK_MB = 1  # hskit.native.chunks.LOAD_CHUNK_SIZE
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
import gc, json, resource, sys, time, hskit
paths = sys.argv[1:]
repeats = 1
if paths[0].startswith("--best-of="):  # time this many loads, keep the fastest
    repeats, paths = int(paths[0].removeprefix("--best-of=")), paths[1:]
if "--warm-up" in paths:  # load these first: time (or measure) the steady state
    split = paths.index("--warm-up")
    warm, paths = paths[split + 1 :], paths[:split]
    for capture in warm:
        hskit.load(capture.split(",") if "," in capture else capture, backend="native",
                   progress=False)
gc.collect()
rss_before = own_peak_kb("VmRSS", reset=True)
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
cap = hskit.load(paths[0] if len(paths) == 1 else paths, backend="native", progress=False)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
facts = {"seconds": seconds, "segments": len(cap.segments),
         "user": after.ru_utime - before.ru_utime, "system": after.ru_stime - before.ru_stime,
         "own_peak_kb": own_peak_kb("VmHWM") - rss_before,
         "table_bytes": int(cap.segments.memory_usage(deep=True).sum())}
for _ in range(repeats - 1):
    del cap
    start = time.perf_counter()
    cap = hskit.load(paths[0] if len(paths) == 1 else paths, backend="native", progress=False)
    facts["seconds"] = min(facts["seconds"], time.perf_counter() - start)
print(json.dumps(facts))
"""
)
#: the kernel's counters of this process: ``VmRSS`` now, ``VmHWM`` its peak since the
#: last reset (writing 5 to ``/proc/self/clear_refs`` resets the peak to the current RSS).
OWN_PEAK = """
def own_peak_kb(field, reset=False):
    if reset:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
"""
LOAD = OWN_PEAK + LOAD
#: small captures of both formats and a set of both, loaded before a load whose own peak
#: is measured: the compiled reader is loaded, and little memory is left over to reuse.
SMALL_WARM_UP = [
    str(REPO / "sample_pcaps" / "two_interfaces.pcapng"),
    str(REPO / "sample_pcaps" / "zero_window_stall.pcap"),
    f"{REPO}/sample_pcaps/two_interfaces.pcapng,{REPO}/sample_pcaps/zero_window_stall.pcap",
]
CLI = PRELUDE + "from hskit.cli import main; main()"
#: ``hskit.convert`` of argv[2] to argv[3] after a warm-up convert of argv[1] (to a
#: temporary folder) in the same process: the steady state, start-up costs excluded.
CONVERT_STEADY = (
    PRELUDE
    + """
import sys, tempfile, time, hskit
with tempfile.TemporaryDirectory(prefix="hskit-warm-") as folder:
    hskit.convert(sys.argv[1], folder + "/dataset", progress=False)
start = time.perf_counter()
hskit.convert(sys.argv[2], sys.argv[3], progress=False)
print(time.perf_counter() - start)
"""
)
#: what one size measures, as ``--only`` names them.
MEASURES = ("load", "summary", "convert")


class Failed(RuntimeError):
    """A measured command that exited with an error status (or was killed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def run(args: list[str], prefix: list[str] | None = None) -> Run:
    """Run a command, return wall seconds, its peak RSS (MB) and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [*(prefix or []), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=ENV, text=True,
    )  # fmt: skip
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise Failed(process.returncode, f"{args[:3]} failed: {err.strip()[-500:]}")
    peak = [line for line in err.splitlines() if line.startswith("PEAK_KB=")]
    return Run(seconds, int(peak[-1].removeprefix("PEAK_KB=")) / 1024, out)


@contextlib.contextmanager
def memory_cgroup(limit_mb: int) -> Iterator[Path]:
    """A memory cgroup limited to ``limit_mb`` (no swap), v1 where its memory controller is
    mounted, else v2; yields its ``cgroup.procs`` file."""
    limit = str(limit_mb * 2**20)
    v1 = Path("/sys/fs/cgroup/memory")
    group = (v1 if v1.is_dir() else Path("/sys/fs/cgroup")) / f"hskit-scale-{os.getpid()}"
    group.mkdir()
    try:
        if v1.is_dir():
            (group / "memory.limit_in_bytes").write_text(limit)
            if (group / "memory.memsw.limit_in_bytes").exists():
                (group / "memory.memsw.limit_in_bytes").write_text(limit)
        else:
            (group / "memory.max").write_text(limit)
            (group / "memory.swap.max").write_text("0")
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


def _inputs(n: int) -> dict[str, list[str]]:
    """The N-times capture of each kind loaded, by row name."""
    return {
        "load pcapng": [str(CACHE / f"copies-{n}x.pcapng")],
        "load pcap": [str(CACHE / f"copies-{n}x.pcap")],
        "load ring": sorted(map(str, (CACHE / f"copies-{n}x-ring").iterdir())),
    }


def measure(n: int, only: tuple[str, ...] = MEASURES) -> list[tuple[str, ...]]:
    """Rows of the table for one size (the measurements named in ``only``)."""
    rows = []
    merged = CACHE / f"copies-{n}x.pcapng"
    rates, steady_rates = {}, {}
    warm_ups = _inputs(1)
    for what, paths in _inputs(n).items() if "load" in only else ():
        done = run([sys.executable, "-c", LOAD, *paths])
        facts = json.loads(done.output)
        steady = json.loads(run([sys.executable, "-c", LOAD, "--best-of=3", *paths, "--warm-up",
                                 *warm_ups[what]]).output)  # fmt: skip
        warm = json.loads(run([sys.executable, "-c", LOAD, *paths, "--warm-up",
                               *SMALL_WARM_UP]).output)  # fmt: skip
        segments = facts["segments"]
        rates[what] = segments / facts["seconds"]
        steady_rates[what] = segments / steady["seconds"]
        table_mb = facts["table_bytes"] / 2**20
        target = 1.5 * table_mb + CHUNK_MB
        name = f"load ring of {n}" if what == "load ring" else what
        own = f"{facts['own_peak_kb'] / 1024:.0f} / {warm['own_peak_kb'] / 1024:.0f}"
        rows.append(_row(n, name, facts["seconds"], segments, done.peak_mb,
                         f"table {table_mb:.0f} MB, target <= {target:.0f} MB",
                         steady_seconds=steady["seconds"], own_peak=own))  # fmt: skip
    if "summary" in only:
        done = run([sys.executable, "-c", CLI, "summary", str(merged)])
        segments = _segments(done.output, "summary")
        rows.append(_row(n, "hskit summary", done.seconds, segments, done.peak_mb, "whole process"))
    if "convert" in only:
        with tempfile.TemporaryDirectory(prefix="hskit-scale-") as folder:
            dataset = Path(folder) / "dataset"
            done = run([sys.executable, "-c", CLI, "convert", str(merged), "-o", str(dataset)])
            size = sum(p.stat().st_size for p in dataset.rglob("*") if p.is_file())
            shutil.rmtree(dataset)
            steady = float(run([sys.executable, "-c", CONVERT_STEADY,
                                str(CACHE / "copies-1x.pcapng"), str(merged),
                                str(dataset)]).output)  # fmt: skip
        rows.append(_row(n, "hskit convert", done.seconds, _segments(done.output, "convert"),
                         done.peak_mb, f"dataset {size / 2**20:.0f} MB",
                         steady_seconds=steady))  # fmt: skip
    if rates:
        ratio = rates["load pcapng"] / rates["load pcap"]
        steady_ratio = steady_rates["load pcapng"] / steady_rates["load pcap"]
        rows.append((f"{n}x", "pcapng / pcap rate", "", "", f"{ratio:.2f}", "", "", "", "",
                     f"first call (M seg/s column); steady {steady_ratio:.2f}"))  # fmt: skip
    return rows


def fresh_first_calls(small: int, large: int, rounds: int) -> list[str]:
    """Each kind's load as the first call of a fresh process, at the ``small`` and the
    ``large`` size taken in turn, ``rounds`` times (so a busy minute weighs on both):
    lines with the median and best µs/segment and the large/small ratio of the medians,
    and the same ratio of the median user and system CPU time per segment."""
    per_segment: dict[tuple[int, str], dict[str, list[float]]] = {}
    for _ in range(rounds):
        for n in (small, large):
            for what, paths in _inputs(n).items():
                facts = json.loads(run([sys.executable, "-c", LOAD, *paths]).output)
                times = per_segment.setdefault((n, what), {"wall": [], "user": [], "system": []})
                for kind, seconds in times.items():
                    key = "seconds" if kind == "wall" else kind
                    seconds.append(facts[key] / facts["segments"] * 1e6)
    lines = []
    for what in _inputs(small):
        low, high = per_segment[(small, what)], per_segment[(large, what)]
        ratio = {kind: statistics.median(high[kind]) / statistics.median(low[kind])
                 for kind in low}  # fmt: skip
        lines.append(
            f"{what}: {small}x {_spread(low['wall'])} us/seg, {large}x {_spread(high['wall'])}; "
            f"{large}x / {small}x {ratio['wall']:.2f}; CPU median user "
            f"{statistics.median(low['user']):.3f} -> {statistics.median(high['user']):.3f} "
            f"({ratio['user']:.2f}), system {_spread(low['system'])} -> "
            f"{_spread(high['system'])} ({ratio['system']:.2f})"
        )
    for n in (small, large):
        pcap, pcapng = per_segment[(n, "load pcap")], per_segment[(n, "load pcapng")]
        lines.append(
            f"{n}x pcapng / pcap rate from the medians: "
            f"{statistics.median(pcap['wall']) / statistics.median(pcapng['wall']):.2f}, user CPU "
            f"{statistics.median(pcap['user']) / statistics.median(pcapng['user']):.2f}"
        )
    return lines


def _spread(values: list[float]) -> str:
    """The median of ``values`` and, in brackets, their range.

    >>> _spread([0.2, 0.1, 0.4])
    '0.200 (0.100-0.400)'
    """
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


#: one process: each kind at both sizes loaded once, then ``rounds`` rounds of two loads
#: of each, sizes and kinds in turn; prints, as JSON, each load's wall time, user and
#: system CPU time per segment (µs) and its page faults per MB of the segments table.
INTERLEAVED = """
import json, resource, sys, time, hskit
rounds, small, large = (int(a) for a in sys.argv[1:4])
paths = {(n, kind): sys.argv[4].format(n=n, kind=kind) for n in (small, large)
         for kind in ("pcap", "pcapng")}
def per_segment(path):
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    cap = hskit.load(path, backend="native", progress=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    rows, table_mb = len(cap.segments), cap.segments.memory_usage(deep=True).sum() / 2**20
    return {"wall": wall / rows * 1e6, "user": (after.ru_utime - before.ru_utime) / rows * 1e6,
            "system": (after.ru_stime - before.ru_stime) / rows * 1e6,
            "faults_per_mb": (after.ru_minflt - before.ru_minflt) / table_mb}
for path in paths.values():
    per_segment(path)
loads = {f"{n} {kind}": [] for n, kind in paths}
for _ in range(rounds):
    for (n, kind), path in paths.items():
        loads[f"{n} {kind}"] += [per_segment(path), per_segment(path)]
print(json.dumps(loads))
"""


def steady_interleaved(small: int, large: int, rounds: int) -> list[str]:
    """pcap and pcapng at the ``small`` and ``large`` size loaded in turn in one process
    (so a busy minute weighs on all four): lines with the best and median µs/segment,
    the large/small ratios and the pcapng/pcap rates."""
    pattern = str(CACHE / "copies-{n}x.{kind}")
    output = run([sys.executable, "-c", PRELUDE + INTERLEAVED, str(rounds), str(small),
                  str(large), pattern]).output  # fmt: skip
    loads = json.loads(output)
    times = {key: [load["wall"] for load in values] for key, values in loads.items()}
    best = {key: min(values) for key, values in times.items()}
    middle = {key: statistics.median(values) for key, values in times.items()}
    cpu = {key: {what: statistics.median(load[what] for load in values)
                 for what in ("user", "system", "faults_per_mb")}
           for key, values in loads.items()}  # fmt: skip
    lines = [
        f"{key.replace(' ', 'x ')}: best {best[key]:.3f}, median {middle[key]:.3f} us/seg; "
        f"CPU median user {cpu[key]['user']:.3f}, system {cpu[key]['system']:.3f} us/seg; "
        f"{cpu[key]['faults_per_mb']:.0f} page faults per MB of table"
        for key in times
    ]
    for kind in ("pcap", "pcapng"):
        low, high = f"{small} {kind}", f"{large} {kind}"
        ratios = f"best {best[high] / best[low]:.2f}, median {middle[high] / middle[low]:.2f}"
        user = cpu[high]["user"] / cpu[low]["user"]
        system = cpu[high]["system"] / cpu[low]["system"]
        lines.append(f"{kind} {large}x / {small}x time per segment: {ratios}; "
                     f"CPU median user {user:.2f}, system {system:.2f}")  # fmt: skip
    for n in (small, large):
        pcap, pcapng = f"{n} pcap", f"{n} pcapng"
        lines.append(f"{n}x pcapng / pcap rate: best {best[pcap] / best[pcapng]:.2f}, "
                     f"median {middle[pcap] / middle[pcapng]:.2f}")  # fmt: skip
    return lines


def _segments(output: str, command: str) -> int:
    """The segment count printed first by ``hskit convert`` ("wrote N segments of …") or
    ``hskit summary`` ("CAPTURE: N TCP segments, …")."""
    first = output.splitlines()[0]
    count = first.split()[1] if command == "convert" else first.rsplit(": ", 1)[1].split()[0]
    return int(count.replace(",", ""))


def capped(n: int, cap_mb: int, command: str) -> tuple[str, ...]:
    """``hskit convert`` or ``hskit summary`` (with their defaults) of the N-times capture
    inside a memory cgroup of ``cap_mb``: one row."""
    merged = CACHE / f"copies-{n}x.pcapng"
    capture_mb = merged.stat().st_size / 2**20
    with tempfile.TemporaryDirectory(prefix="hskit-scale-") as folder:
        output = ["-o", f"{folder}/dataset"] if command == "convert" else []
        with memory_cgroup(cap_mb) as procs:
            prefix = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]
            start = time.perf_counter()
            try:
                done: Run | None = run(
                    [sys.executable, "-c", CLI, command, str(merged), *output], prefix=prefix
                )
                outcome = "completed"
            except Failed as error:
                done = None
                after = f"after {time.perf_counter() - start:.0f} s"
                killed = error.status in (-9, 137)
                outcome = (f"killed by the cgroup's OOM killer {after}" if killed
                           else f"failed with status {error.status} {after}")  # fmt: skip
    what = f"{command} in {cap_mb} MB cgroup"
    note = f"capture {capture_mb:.0f} MB = {capture_mb / cap_mb:.1f}x the cap: {outcome}"
    if done is None:
        return (f"{n}x", what, "", "", "", "", "", "", "", note)
    return _row(n, what, done.seconds, _segments(done.output, command), done.peak_mb, note)


def _row(
    n: int,
    what: str,
    seconds: float,
    segments: int,
    peak_mb: float,
    note: str,
    *,
    steady_seconds: float | None = None,
    own_peak: str = "",
) -> tuple[str, ...]:
    steady = "" if steady_seconds is None else f"{steady_seconds / segments * 1e6:.2f}"
    return (f"{n}x", what, f"{seconds:.2f}", f"{segments:,}", f"{segments / seconds / 1e6:.2f}",
            f"{seconds / segments * 1e6:.2f}", steady, f"{peak_mb:.0f}", own_peak,
            note)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8", help="multiples of the base capture")
    parser.add_argument(
        "--build-only", action="store_true", help="make the captures, measure nothing"
    )
    parser.add_argument("--convert-cap", type=int, default=None, metavar="MB",
                        help="also summary, convert of --cap-sizes in a cgroup of MB")  # fmt: skip
    parser.add_argument("--cap-sizes", default=None, metavar="N,M",
                        help="sizes converted under the cap (default: 2 largest)")  # fmt: skip
    parser.add_argument("--fresh-rounds", type=int, default=15, metavar="R",
                        help="fresh first loads, smallest and largest size in turn")  # fmt: skip
    parser.add_argument("--steady-rounds", type=int, default=20, metavar="R",
                        help="steady loads, both sizes and kinds in turn, one process")  # fmt: skip
    parser.add_argument("--only", default=",".join(MEASURES), metavar="WHAT,…",
                        help=f"measure only these of {', '.join(MEASURES)}")  # fmt: skip
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.sizes.split(","))
    only = tuple(args.only.split(","))
    if unknown := set(only) - set(MEASURES):
        parser.error(f"--only takes {', '.join(MEASURES)}, not {', '.join(sorted(unknown))}")
    cap_sizes = sorted(int(n) for n in args.cap_sizes.split(",")) if args.cap_sizes else sizes[-2:]
    build(
        sorted(
            {
                *sizes,
                *(cap_sizes if args.convert_cap else []),
                *([1] if {"load", "convert"} & set(only) else []),
            }
        )
    )
    if args.build_only:
        return
    # hskit's bytecode, as an installed copy has it (pip compiles a wheel's modules, and
    # Python writes them at the first import unless PYTHONDONTWRITEBYTECODE is set): a
    # fresh process's first call is not charged for compiling hskit's source.
    compileall.compile_dir(REPO / "hskit", quiet=1)
    baseline = run([sys.executable, "-c", PRELUDE + "import hskit.native"]).peak_mb
    print(f"peak RSS of the interpreter with hskit's reader imported: {baseline:.0f} MB")
    loops = run(
        [sys.executable, "-c", PRELUDE + "from hskit import compiled; print(compiled.LOOPS)"]
    )
    print(f"compiled loops: {loops.output.strip()} (hskit.compiled.LOOPS)")
    header = ("size", "what", "seconds", "segments", "M seg/s", "us/seg", "steady us/seg",
              "peak RSS MB", "load's own peak MB fresh / warm", "")  # fmt: skip
    print(" | ".join(header), flush=True)
    for n in sizes:
        for row in measure(n, only):
            print(" | ".join(row), flush=True)
    if args.fresh_rounds and "load" in only and len(sizes) > 1:
        print(f"load as a fresh process's first call, {sizes[0]}x and {sizes[-1]}x in turn, "
              f"{args.fresh_rounds} rounds (median (range)):")  # fmt: skip
        for line in fresh_first_calls(sizes[0], sizes[-1], args.fresh_rounds):
            print("  " + line, flush=True)
    if args.steady_rounds and "load" in only and len(sizes) > 1:
        print(f"steady loads in one process, {sizes[0]}x and {sizes[-1]}x, pcap and pcapng "
              f"in turn, {args.steady_rounds} rounds of two:")  # fmt: skip
        for line in steady_interleaved(sizes[0], sizes[-1], args.steady_rounds):
            print("  " + line, flush=True)
    if args.convert_cap:
        for command in ("summary", "convert"):
            if command in only:
                for n in cap_sizes:
                    print(" | ".join(capped(n, args.convert_cap, command)), flush=True)


if __name__ == "__main__":
    main()
