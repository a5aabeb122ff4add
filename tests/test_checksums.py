"""The segments' ``checksum_ok`` (NumPy, hskit/native/checksum.py) equals tshark's own
verdict, ``tcp.checksum.status`` with ``tcp.check_checksum:TRUE``, on every capture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES, REPO

import hskit

DATA = REPO / "tests" / "data"
CAPTURES = [
    *ALL_CAPTURES,
    *sorted(DATA.glob("real_*")),
    *sorted(DATA.glob("variant_*")),
    *sorted(DATA.glob("edge_*")),
    *sorted((DATA / "zeek_scenarios").glob("*.pcap")),
]
#: tshark's verdicts: Good and Illegal (0xFFFF for 0) are right, Bad wrong, the rest
#: (Unverified: not all captured, or in an IP fragment) unknown.
VERDICTS = {"Good": True, "Illegal": True, "Bad": False}


def tshark_verdicts(tshark: str, path: Path) -> pd.DataFrame:
    """Frame numbers of TCP segments (not quoted in ICMP) and tshark's verdict on each."""
    output = subprocess.run(
        [tshark, "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE",
         "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
         "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-E", "occurrence=l",
         "-e", "frame.number", "-e", "tcp.checksum.status"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    rows = [line.split("\t") for line in output.splitlines()]
    status = pd.Series([int(s) if s else 2 for _, s in rows], dtype="Int64")
    names = {0: "Bad", 1: "Good", 2: "Unverified", 3: "Not present", 4: "Illegal"}
    verdict = status.map(lambda s: VERDICTS.get(names[s], pd.NA)).astype("boolean")
    return pd.DataFrame({"frame": [int(f) for f, _ in rows], "tshark": verdict})


@pytest.mark.parametrize("path", CAPTURES, ids=lambda path: path.name)
def test_native_checksum_ok_is_tsharks_verdict(tshark, path, figures):
    try:
        segments = hskit.load(path, backend="native").segments
    except hskit.errors.UnsupportedLinkType:
        pytest.skip("not a capture the native reader decodes")
    theirs = tshark_verdicts(tshark, path)
    ours = segments[["frame", "checksum_ok"]].astype({"frame": np.int64})
    both = ours.merge(theirs, on="frame", how="inner")
    assert len(both) == len(ours)
    same = (both["checksum_ok"].isna() == both["tshark"].isna()) & (
        both["checksum_ok"].fillna(False) == both["tshark"].fillna(False)
    )
    counts = {str(k): n for k, n in both["checksum_ok"].value_counts(dropna=False).items()}
    figures(f"{path.name}: {same.sum()}/{len(both)} equal ({counts})")
    assert same.all(), both[~same].head()
