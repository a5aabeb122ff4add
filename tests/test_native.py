"""The native reader against tshark's own reading of the same captures, field by field.

tshark's ``-T fields`` output is the independent truth: frame numbers, stream numbers,
addresses, ports, flags, raw and relative sequence numbers, lengths, timestamps and TCP
options must match exactly on every capture in the repository and every format variant
in ``tests/data``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES

from hskit import native, schema

#: (our column, tshark field); every field is printed with all occurrences, first one used.
FIELDS: tuple[tuple[str, str], ...] = (
    ("frame", "frame.number"),
    ("epoch", "frame.time_epoch"),
    ("stream", "tcp.stream"),
    ("ip4_src", "ip.src"),
    ("ip4_dst", "ip.dst"),
    ("ip6_src", "ipv6.src"),
    ("ip6_dst", "ipv6.dst"),
    ("src_port", "tcp.srcport"),
    ("dst_port", "tcp.dstport"),
    ("flags", "tcp.flags"),
    ("seq", "tcp.seq_raw"),
    ("ack", "tcp.ack_raw"),
    ("rel_seq", "tcp.seq"),
    ("rel_ack", "tcp.ack"),
    ("win", "tcp.window_size_value"),
    ("payload_len", "tcp.len"),
    ("option_kinds", "tcp.option_kind"),
    ("mss", "tcp.options.mss_val"),
    ("wscale", "tcp.options.wscale.shift"),
    ("ts_val", "tcp.options.timestamp.tsval"),
    ("ts_ecr", "tcp.options.timestamp.tsecr"),
    ("magic", "tcp.options.experimental.exid"),
)


def run_tshark(
    tshark: str, path: Path, display_filter: str, fields: list[str], options: tuple[str, ...] = ()
) -> list[list[str]]:
    """Rows of ``tshark -T fields`` output, isolated from any user profile."""
    with tempfile.TemporaryDirectory() as config:
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": config}
        command = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a"]
        command += ["-E", "separator=|", "-Y", display_filter, *options]
        for field in fields:
            command += ["-e", field]
        output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return [line.split("|") for line in output.splitlines()]


def _epoch_text_ns(text: str) -> int | None:
    """``frame.time_epoch`` text as integer nanoseconds; None for a frame without a time."""
    if not text:
        return None
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0"))


def _first(values: pd.Series) -> pd.Series:
    return values.str.split(",").str[0]


def _nullable(values: pd.Series, dtype: str) -> pd.Series:
    first = _first(values)
    return pd.to_numeric(first.where(first != ""), errors="raise").astype(dtype)


def tshark_segments(tshark: str, path: Path) -> pd.DataFrame:
    """The segments columns as tshark computes them (TCP outside ICMP errors only)."""
    # A segment is a TCP header captured through its window field (tcp.flags is there).
    rows = run_tshark(tshark, path, "tcp.flags && !icmp && !icmpv6", [f for _, f in FIELDS])
    raw = pd.DataFrame(rows, columns=[name for name, _ in FIELDS], dtype=object).astype(str)
    out = pd.DataFrame(index=raw.index)
    for name in ("frame", "stream", "src_port", "dst_port", "seq", "ack", "rel_seq", "rel_ack",
                 "win", "payload_len"):  # fmt: skip
        out[name] = _first(raw[name]).astype(np.int64)
    out["flags"] = _first(raw["flags"]).apply(int, base=16) & 0x1FF
    epochs = [_epoch_text_ns(text) for text in _first(raw["epoch"])]
    out["ts_ns"] = pd.Series(epochs, index=raw.index, dtype=object)
    v6 = _first(raw["ip4_src"]) == ""
    out["src_ip"] = _first(raw["ip4_src"]).where(~v6, _first(raw["ip6_src"]))
    out["dst_ip"] = _first(raw["ip4_dst"]).where(~v6, _first(raw["ip6_dst"]))
    out["ip_version"] = np.where(v6, 6, 4)
    for name, dtype in (("mss", "UInt16"), ("wscale", "UInt8"), ("ts_val", "UInt32"),
                        ("ts_ecr", "UInt32")):  # fmt: skip
        out[name] = _nullable(raw[name], dtype)
    kinds = raw["option_kinds"].str.split(",")
    out["sack_perm"] = kinds.apply(lambda k: "4" in k)
    magic = raw["magic"].str.split(",")
    out["tfo"] = kinds.apply(lambda k: "34" in k) | magic.apply(
        lambda m: any(value.lower() in ("0xf989", str(0xF989)) for value in m)
    )
    return out


def tshark_frame_count(tshark: str, path: Path) -> int:
    """How many frames tshark reads from ``path``."""
    return len(run_tshark(tshark, path, "frame", ["frame.number"]))


DATA_DIR = Path(__file__).resolve().parent / "data"
#: format variants made by ``tests/data/make_edge_cases.py`` that tshark reads too.
FORMAT_VARIANTS: list[Path] = sorted(DATA_DIR.glob("real_*")) + sorted(DATA_DIR.glob("variant_*"))
#: a pcapng simple packet block has no timestamp: ``ts`` is NaT and ``time`` NaN there.
SIMPLE_BLOCKS = DATA_DIR / "edge_simple_packet_block.pcapng"
COMPARED = (
    "frame", "stream", "src_port", "dst_port", "ip_version", "flags", "seq", "ack", "rel_seq",
    "rel_ack", "win", "payload_len", "mss", "wscale", "sack_perm", "tfo", "ts_val", "ts_ecr",
)  # fmt: skip


def _epoch_ns(ts: pd.Series) -> list[int | None]:
    """Timestamps as integer nanoseconds since the epoch; None for NaT."""
    nanoseconds = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().view(np.int64)
    missing = ts.isna().to_numpy()
    return [None if gap else int(value) for value, gap in zip(nanoseconds, missing, strict=True)]


def _native(path: Path) -> pd.DataFrame:
    segments, _ = native.read(path, progress=False)
    return segments


def _assert_matches_tshark(tshark: str, path: Path) -> None:
    ours = _native(path)
    truth = tshark_segments(tshark, path)
    assert len(ours) == len(truth), "segment count differs from tshark"
    for column in COMPARED:
        expected = truth[column]
        actual = ours[column]
        if isinstance(expected.dtype, pd.api.extensions.ExtensionDtype):
            actual = actual.astype(expected.dtype)
        else:
            actual = actual.astype(expected.dtype)
        mismatch = ~(actual.to_numpy() == expected.to_numpy())
        if isinstance(expected.dtype, pd.api.extensions.ExtensionDtype):
            mismatch = (actual.isna() != expected.isna()) | (
                actual.fillna(0).to_numpy() != expected.fillna(0).to_numpy()
            )
        bad = np.flatnonzero(np.asarray(mismatch))
        assert len(bad) == 0, (
            f"{column} differs from tshark at frames {truth['frame'].iloc[bad[:5]].tolist()}: "
            f"native {actual.iloc[bad[:5]].tolist()} vs tshark {expected.iloc[bad[:5]].tolist()}"
        )
    assert ours["src_ip"].astype(str).tolist() == truth["src_ip"].tolist()
    assert ours["dst_ip"].astype(str).tolist() == truth["dst_ip"].tolist()
    assert _epoch_ns(ours["ts"]) == truth["ts_ns"].tolist()


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_every_column_matches_tshark_on_repository_captures(tshark: str, path: Path) -> None:
    _assert_matches_tshark(tshark, path)


@pytest.mark.parametrize("path", [*FORMAT_VARIANTS, SIMPLE_BLOCKS], ids=lambda p: p.name)
def test_every_column_matches_tshark_on_format_variants(tshark: str, path: Path) -> None:
    _assert_matches_tshark(tshark, path)


@pytest.mark.parametrize("path", ALL_CAPTURES + FORMAT_VARIANTS, ids=lambda p: p.name)
def test_frame_count_matches_tshark(tshark: str, path: Path) -> None:
    _, report = native.read(path, progress=False)
    assert report.frames == tshark_frame_count(tshark, path)


@pytest.mark.parametrize(
    "path", [*ALL_CAPTURES, *FORMAT_VARIANTS, SIMPLE_BLOCKS], ids=lambda p: p.name
)
def test_time_counts_from_the_first_frame_of_the_file(tshark: str, path: Path) -> None:
    first = _epoch_text_ns(
        run_tshark(tshark, path, "frame.number == 1", ["frame.time_epoch"])[0][0]
    )
    segments = _native(path)
    expected = [np.nan if ts is None else (ts - first) / 1e9 for ts in _epoch_ns(segments["ts"])]
    np.testing.assert_array_equal(segments["time"].to_numpy(), expected)


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_segments_follow_the_schema(path: Path) -> None:
    segments = _native(path)
    schema.check(segments, schema.SEGMENT_DTYPES, "segments")
    assert list(segments["src_ip"].cat.categories) == list(segments["dst_ip"].cat.categories)


NO_REASSEMBLY = ("-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE")


def test_first_fragment_is_the_segment_and_later_fragments_are_counted(tshark: str) -> None:
    path = DATA_DIR / "edge_fragments.pcap"
    fields = ["frame.number", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.flags"]
    truth = run_tshark(tshark, path, "tcp", fields, NO_REASSEMBLY)
    later = run_tshark(
        tshark, path, "ip.frag_offset > 0 || ipv6.fraghdr.offset > 0", ["frame.number"]
    )
    segments, report = native.read(path, progress=False)
    ours = segments[["frame", "src_port", "dst_port", "seq", "flags"]].to_numpy().tolist()
    assert ours == [[int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4], 16)] for r in truth]
    assert report.skipped["ip_fragment"] == len(later) > 0


@pytest.mark.parametrize("path", FORMAT_VARIANTS + ALL_CAPTURES, ids=lambda p: p.name)
def test_skipped_frames_are_counted_by_reason(tshark: str, path: Path) -> None:
    not_ip = run_tshark(tshark, path, "!ip && !ipv6", ["frame.number"], NO_REASSEMBLY)
    not_tcp = run_tshark(
        tshark, path, "(ip || ipv6) && !(tcp && !icmp && !icmpv6)", ["frame.number"],
        NO_REASSEMBLY,
    )  # fmt: skip
    truncated = run_tshark(
        tshark, path, "tcp && !tcp.flags && !icmp && !icmpv6", ["frame.number"], NO_REASSEMBLY
    )
    _, report = native.read(path, progress=False)
    assert report.skipped.get("not_ip", 0) == len(not_ip)
    assert report.skipped.get("not_tcp", 0) == len(not_tcp)
    assert report.skipped.get("truncated_headers", 0) == len(truncated)
    assert report.frames == report.tcp_segments + report.skipped_total


def test_segments_cost_at_most_80_bytes_a_row() -> None:
    largest = max(ALL_CAPTURES + FORMAT_VARIANTS, key=lambda path: len(_native(path)))
    segments = _native(largest)
    assert segments.memory_usage(deep=True).sum() / len(segments) <= 80


class _CountingBar:
    """Stands in for the progress bar and adds up what the walk reports."""

    def __init__(self, total: int | None, **_: object) -> None:
        self.total, self.counted = total, 0
        BARS.append(self)

    def __enter__(self) -> _CountingBar:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, count: int) -> None:
        self.counted += count


BARS: list[_CountingBar] = []


@pytest.mark.parametrize(
    "name", ["real_loopback.pcap", "variant_sections.pcapng", "variant_editcap.pcapng"]
)
def test_progress_counts_every_byte_of_the_file(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    records_module = sys.modules["hskit.native.records"]
    monkeypatch.setattr(records_module, "byte_progress", _CountingBar)
    BARS.clear()
    path = DATA_DIR / name
    native.read(path, progress=True)
    size = path.stat().st_size
    assert [(bar.total, bar.counted) for bar in BARS] == [(size, size)]
