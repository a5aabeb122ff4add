"""Load-speed benchmark: hskit's two backends against the usual ways of reading a capture.

Each measurement runs in its own Python process, so its peak RSS (``resource.getrusage``)
is its own; tshark's peak is reported separately (the process's waited-for children).

    python benchmarks/load.py                     # the cached loopback capture
    python benchmarks/load.py some.pcap --pyshark-prefix 2000
    python benchmarks/load.py --only tshark       # the lines naming tshark (and the pipe)

Prints packets per second, the ratio to a plain ``tshark -T fields`` → pandas pipe, peak
memory and, for hskit's tables, bytes per segment row; then the targets and whether they
are met.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the 14 fields of the plain pipe, as in the issue that measured it.
PIPE_FIELDS = (
    "frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ip.dst", "tcp.srcport",
    "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.seq", "tcp.ack",
    "tcp.window_size_value", "tcp.len",
)  # fmt: skip
#: the measurement every ratio is taken against.
PIPE = "tshark -T fields | pd.read_csv"
TARGET_NATIVE_RATE = 2_000_000
TARGET_NATIVE_RATIO = 40.0
TARGET_TSHARK_RATIO = 1.8
TARGET_BYTES_PER_ROW = 80.0


def hskit_load(path: Path, backend: str, repeat: int = 1) -> dict[str, float]:
    """``hskit.load`` timed alone: its modules are imported before the clock starts.

    With ``repeat`` > 1 the fastest of that many loads counts (steady state: warm caches),
    and its CPU time is reported per load.
    """
    import importlib

    import hskit

    importlib.import_module(f"hskit.{backend}")
    fastest = float("inf")
    cpu_before = cpu_seconds()
    for _ in range(repeat):
        start = time.perf_counter()
        cap = hskit.load(path, backend=backend, progress=False)  # type: ignore[arg-type]
        fastest = min(fastest, time.perf_counter() - start)
    rows = len(cap.segments)
    result = {
        "seconds": fastest,
        "packets": cap.load_report.frames,
        "rows": rows,
        "bytes_per_row": float(cap.segments.memory_usage(deep=True).sum()) / max(rows, 1),
    }
    if repeat > 1:
        result["cpu_seconds"] = (cpu_seconds() - cpu_before) / repeat
    return result


def fields_pipe(path: Path) -> dict[str, float]:
    """What an analyst writes first: ``tshark -T fields`` piped into ``pd.read_csv``."""
    import pandas as pd

    from hskit.tshark.locate import tshark_executable

    arguments = [tshark_executable(), "-n", "-r", str(path), "-T", "fields"]
    for field in PIPE_FIELDS:
        arguments += ["-e", field]
    start = time.perf_counter()
    with subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tshark:
        table = pd.read_csv(tshark.stdout, sep="\t", header=None, names=list(PIPE_FIELDS))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packets": len(table), "rows": len(table)}


def dpkt_loop(path: Path) -> dict[str, float]:
    """A dpkt loop over Ethernet/IP/TCP frames into a DataFrame (no stream numbering)."""
    import socket

    import dpkt
    import pandas as pd

    start = time.perf_counter()
    rows = []
    packets = 0
    with open(path, "rb") as handle:
        for ts, buf in dpkt.pcap.Reader(handle):
            packets += 1
            ip = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            rows.append(
                (
                    ts,
                    socket.inet_ntoa(ip.src),
                    socket.inet_ntoa(ip.dst),
                    tcp.sport,
                    tcp.dport,
                    tcp.flags,
                    tcp.seq,
                    tcp.ack,
                    tcp.win,
                    len(tcp.data),
                )
            )
    table = pd.DataFrame(
        rows, columns=["ts", "src", "dst", "sport", "dport", "flags", "seq", "ack", "win", "len"]
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packets": packets, "rows": len(table)}


def pyshark_prefix(path: Path) -> dict[str, float]:
    """pyshark's FileCapture over the file (run on a prefix; the rate is extrapolated)."""
    import pandas as pd
    import pyshark

    start = time.perf_counter()
    rows = []
    capture = pyshark.FileCapture(str(path), keep_packets=False)
    packets = 0
    for packet in capture:
        packets += 1
        if "TCP" in packet:
            tcp = packet.tcp
            rows.append(
                (
                    packet.sniff_timestamp,
                    tcp.stream,
                    tcp.srcport,
                    tcp.dstport,
                    tcp.flags,
                    tcp.seq,
                    tcp.ack,
                    tcp.len,
                )
            )
    capture.close()
    table = pd.DataFrame(rows)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packets": packets, "rows": len(table)}


def tshark_export(path: Path, layout: str) -> dict[str, float]:
    """tshark alone writing hskit's columns to /dev/null, as ``-T tabs`` or as ``-T fields``.

    Same preferences, disabled protocols and fields: only the output layout differs.
    """
    from hskit import tshark
    from hskit.tshark.isolation import isolated
    from hskit.tshark.locate import tshark_executable

    executable = tshark_executable()
    arguments = tshark.command(executable, path, None)
    if layout == "fields":  # drop "-o gui.column.format:…" and "-T tabs"
        arguments = [*arguments[: arguments.index("-T") - 2], "-T", "fields"]
        # the built-in network address columns as the fields they show
        fields = [
            field
            for column in tshark.COLUMNS
            for field in (
                ("ip.src", "ipv6.src") if column.field == "%uns"
                else ("ip.dst", "ipv6.dst") if column.field == "%und"
                else column.field.split(" or ")
            )
        ]  # fmt: skip
        arguments += [item for field in fields for item in ("-e", field)]
    with isolated(executable, tshark.disabled_protocols(executable)) as isolation:
        start = time.perf_counter()
        subprocess.run(
            arguments, env=isolation.env, cwd=isolation.folder,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    return {"seconds": seconds}


MEASUREMENTS: dict[str, Callable[[Path], dict[str, float]]] = {
    "hskit native": lambda path: hskit_load(path, "native"),
    "hskit native, steady (best of 3)": lambda path: hskit_load(path, "native", repeat=3),
    "hskit tshark": lambda path: hskit_load(path, "tshark"),
    PIPE: fields_pipe,
    "dpkt loop -> DataFrame": dpkt_loop,
    "pyshark FileCapture (prefix)": pyshark_prefix,
    "tshark alone, hskit's columns, -T tabs": lambda path: tshark_export(path, "tabs"),
    "tshark alone, same fields, -T fields": lambda path: tshark_export(path, "fields"),
}


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children (tshark), user + system."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_here(name: str, path: Path) -> None:
    """Run one measurement in this process; print it as JSON with CPU time and peak RSS."""
    before = cpu_seconds()
    result = MEASUREMENTS[name](path)
    result.setdefault("cpu_seconds", cpu_seconds() - before)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["child_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def measure(name: str, path: Path) -> dict[str, float]:
    """One measurement in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, __file__, "--one", name, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{name}: {completed.stderr.strip()}")
    return json.loads(completed.stdout.splitlines()[-1])


def prefix_of(path: Path, count: int, folder: Path) -> Path:
    """The first ``count`` packets of ``path``, cut with editcap."""
    from hskit.tshark.locate import companion_executable, tshark_executable

    editcap = companion_executable(tshark_executable(), "editcap")
    if editcap is None:
        raise SystemExit("editcap (installed with tshark) is needed for the pyshark prefix")
    prefix = folder / f"prefix-{count}.pcap"
    subprocess.run([editcap, "-r", str(path), str(prefix), f"1-{count}"], check=True)
    return prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", type=Path, help="default: make_capture.py's file")
    parser.add_argument("--pyshark-prefix", type=int, default=5000, metavar="PACKETS")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="run only the measurements whose name contains TEXT (repeatable); "
        "the -T fields pipe, the base of every ratio, always runs",
    )
    parser.add_argument("--one", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure_here(args.one[0], Path(args.one[1]))
        return
    path = args.capture
    if path is None:
        made = subprocess.run(
            [sys.executable, str(HERE / "make_capture.py")],
            check=True,
            capture_output=True,
            text=True,
        )
        path = Path(made.stdout.strip().splitlines()[-1])
    print(
        f"capture: {path} ({path.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores, "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    selected = [
        name
        for name in MEASUREMENTS
        if args.only is None or name == PIPE or any(text in name for text in args.only)
    ]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hskit-bench-") as folder:
        for name in selected:
            if name.startswith("hskit native") and importlib.util.find_spec("hskit.native") is None:
                print(f"{name}: hskit.native is not importable yet, skipped")
                continue
            source = (
                prefix_of(path, args.pyshark_prefix, Path(folder)) if "prefix" in name else path
            )
            result = results[name] = measure(name, source)
            if "packets" not in result:  # tshark alone: the same file as the pipe
                result["packets"] = results[PIPE]["packets"]
            result["rate"] = result["packets"] / result["seconds"]
    report(results)


def report(results: dict[str, dict[str, float]]) -> None:
    """The table (rates by wall-clock and by CPU time) and the targets."""
    pipe = results[PIPE]
    print(
        f"{'':40} {'packets':>8} {'wall s':>7} {'pkt/s':>10} {'x pipe':>7} {'CPU s':>7} "
        f"{'pkt/CPU s':>10} {'x pipe':>7} {'RSS MB':>7} {'tshark MB':>9} {'B/row':>6}"
    )
    for name, r in results.items():
        per_row = f"{r['bytes_per_row']:6.1f}" if "bytes_per_row" in r else ""
        cpu_rate = r["packets"] / r["cpu_seconds"]
        print(
            f"{name:40} {r['packets']:8.0f} {r['seconds']:7.2f} {r['rate']:10,.0f} "
            f"{r['rate'] / pipe['rate']:6.2f}x {r['cpu_seconds']:7.2f} {cpu_rate:10,.0f} "
            f"{cpu_rate / (pipe['packets'] / pipe['cpu_seconds']):6.2f}x "
            f"{r['rss_mb']:7.0f} {r['child_rss_mb']:9.0f} {per_row:>6}"
        )
    print("targets (wall clock):")
    checks = [
        ("tshark backend vs the -T fields pipe", "hskit tshark", "ratio", TARGET_TSHARK_RATIO)
    ]
    for native in ("hskit native", "hskit native, steady (best of 3)"):
        checks += [
            (f"{native} vs the -T fields pipe", native, "ratio", TARGET_NATIVE_RATIO),
            (f"{native}: segments/s", native, "rate", TARGET_NATIVE_RATE),
        ]
    for label, name, kind, target in checks:
        if name in results:
            value = results[name]["rate"] / (pipe["rate"] if kind == "ratio" else 1.0)
            verdict = "met" if value >= target else "MISSED"
            print(f"  {label}: {value:,.2f} (target >= {target:,}) {verdict}")
    for name in ("hskit native", "hskit tshark"):
        if name in results:
            per_row = results[name]["bytes_per_row"]
            verdict = "met" if per_row <= TARGET_BYTES_PER_ROW else "MISSED"
            print(f"  {name} bytes per row: {per_row:.1f} (target <= 80) {verdict}")


if __name__ == "__main__":
    main()
