"""``hskit.analyze`` against tshark's own ``tcp.analysis.*``, frame by frame, on every
capture in the repository (sample captures with the lossy ones made for this,
Zeek's traces, the loader's edge and variant cases).

Each flag and value is compared on every TCP segment; the figures are printed per flag
(``pytest -s``, and in the summary). Every disagreement gets its reason from
:func:`reason`; a disagreement no rule explains fails the test. Reasons are of two kinds:

- ``input``: tshark did not analyse that frame as hskit did for a reason in the capture
  (TCP options cut by the snap length, no timestamp): nothing to compare, left out of
  the agreement figure;
- ``limit``: hskit cannot know what tshark used (SACK blocks are not in the segments
  table): counted as a disagreement.

Every column must agree on at least 99.9 % of the comparable frames; for
``bytes_in_flight`` that target applies to the frames without a ``limit`` reason (the
figure with them is printed too).

tshark runs single-pass with an empty configuration, as the loader's tshark backend.
"""

from __future__ import annotations

import functools
import io
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES, REPO

import hskit
from hskit.schema import ANALYSIS_FLAGS

#: our column -> tshark's field, for the values that are not flags.
VALUES = {
    "duplicate_ack_num": "tcp.analysis.duplicate_ack_num",
    "duplicate_ack_frame": "tcp.analysis.duplicate_ack_frame",
    "window": "tcp.window_size",
    "ack_rtt": "tcp.analysis.ack_rtt",
    "bytes_in_flight": "tcp.analysis.bytes_in_flight",
}
FLAG_FIELDS = {name: f"tcp.analysis.{name}" for name in ANALYSIS_FLAGS}
#: what the reasons need besides the compared fields.
CONTEXT = ("frame.number", "tcp.stream", "tcp.srcport", "tcp.options.sack_le")
FIELDS = CONTEXT + tuple(FLAG_FIELDS.values()) + tuple(VALUES.values())
#: the loader's edge cases that are not captures of TCP at all, or not loadable.
EDGE_CAPTURES = sorted(
    path
    for path in (REPO / "tests" / "data").glob("*.pcap*")
    if not path.name.startswith("bad_") or path.name == "bad_corrupt_length.pcap"
)
CAPTURES = ALL_CAPTURES + EDGE_CAPTURES
TARGET = 0.999
#: tshark prints ack_rtt with 9 decimals; hskit's times are ns
RTT_TOLERANCE = 1.5e-9

#: captures whose timestamps tshark and the loader read differently on purpose (a simple
#: packet block has none: tshark takes 0, the loader the previous block's)
ODD_TIMESTAMPS = {"edge_simple_packet_block.pcapng"}


@functools.cache
def tshark_fields(tshark: str, capture: Path) -> pd.DataFrame:
    """tshark's :data:`FIELDS` of every TCP segment of ``capture``, as strings."""
    command = [tshark, "-n", "-r", str(capture), "-Y", "tcp", "-T", "fields"]
    command += ["-E", "separator=\t", "-E", "occurrence=f"]
    for name in FIELDS:
        command += ["-e", name]
    with tempfile.TemporaryDirectory() as home:
        environment = {"HOME": home, "WIRESHARK_CONFIG_DIR": home, "PATH": "/usr/bin:/bin"}
        # a damaged capture makes tshark exit 2 after printing the frames before the damage
        output = subprocess.run(
            command, capture_output=True, text=True, check=False, env=environment
        ).stdout
    fields = pd.read_csv(
        io.StringIO(output), sep="\t", names=list(FIELDS), dtype=str, keep_default_na=False
    )
    return fields.set_index(fields["frame.number"].astype(int))


def sacked_before(fields: pd.DataFrame, frame: int) -> bool:
    """The other direction of ``frame``'s stream sent SACK blocks before it."""
    row = fields.loc[frame]
    earlier = fields.loc[: frame - 1]
    peer = earlier[
        (earlier["tcp.stream"] == row["tcp.stream"])
        & (earlier["tcp.srcport"] != row["tcp.srcport"])
    ]
    return bool((peer["tcp.options.sack_le"] != "").any())


def reason(capture: Path, column: str, frame: int, fields: pd.DataFrame) -> tuple[str, str] | None:
    """Why hskit and tshark differ on ``column`` of ``frame``, as (kind, reason); None if
    no rule explains it."""
    row = fields.loc[frame]
    if capture.name == "variant_snaplen60.pcap":
        return "input", "TCP options cut by the 60-byte snap length: tshark does not analyse"
    if column == "window" and row["tcp.window_size"] == "":
        return "input", "tshark dissects no TCP header (IP fragment, or IP length past the frame)"
    if column == "ack_rtt" and capture.name in ODD_TIMESTAMPS:
        return "input", "a block without timestamp: tshark and the loader time it differently"
    if column == "bytes_in_flight" and sacked_before(fields, frame):
        return "limit", "tshark 4.0 subtracts SACKed bytes; segments carry no SACK blocks"
    return None


Disagreements = dict[str, tuple[int, list[tuple[int, "tuple[str, str] | None"]]]]


def compare(capture: Path, tshark: str) -> Disagreements:
    """Per column: frames compared, and each disagreeing frame with its reason."""
    cap = hskit.load(capture)
    ours = cap.analysis
    frames = cap.segments["frame"].to_numpy()
    fields = tshark_fields(tshark, capture).reindex(frames).fillna("")
    result = {}
    for column, field in {**FLAG_FIELDS, **VALUES}.items():
        theirs_text = fields[field]
        if column in FLAG_FIELDS:
            same = ours[column].to_numpy() == (theirs_text != "").to_numpy()
        else:
            theirs = pd.to_numeric(theirs_text.replace("", None)).to_numpy(dtype=float)
            mine = ours[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            tolerance = RTT_TOLERANCE if column == "ack_rtt" else 0
            same = (np.isnan(mine) & np.isnan(theirs)) | (np.abs(mine - theirs) <= tolerance)
        differing = frames[~same]
        result[column] = (
            len(frames),
            [(int(f), reason(capture, column, int(f), fields)) for f in differing],
        )
    return result


@pytest.fixture(scope="module")
def comparisons(tshark) -> dict[Path, Disagreements]:
    return {capture: compare(capture, tshark) for capture in CAPTURES}


def test_every_flag_and_value_agrees_with_tshark(comparisons, figures) -> None:
    totals: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    unexplained = []
    for capture, columns in comparisons.items():
        for column, (count, frames) in columns.items():
            totals[column] += count
            for frame, why in frames:
                kind, text = why or ("unexplained", "UNEXPLAINED")
                kinds[column, kind] += 1
                figures(f"  {capture.name} frame {frame} {column}: {kind}: {text}")
                if why is None:
                    unexplained.append((capture.name, frame, column))
    figures(f"{len(comparisons)} captures, {totals['window']} TCP segments")
    for column, total in totals.items():
        comparable = total - kinds[column, "input"]
        differ = kinds[column, "limit"] + kinds[column, "unexplained"]
        line = f"{column:24s} {1 - differ / comparable:9.4%} of {comparable} agree"
        line += f" ({differ} differ, {kinds[column, 'input']} not comparable)"
        if kinds[column, "limit"]:
            exact = 1 - kinds[column, "unexplained"] / (comparable - kinds[column, "limit"])
            line += f"; {exact:.4%} without the {kinds[column, 'limit']} SACK frames"
        figures(line)
        target_misses = kinds[column, "unexplained"]
        if column != "bytes_in_flight":
            target_misses += kinds[column, "limit"]
        assert target_misses <= (1 - TARGET) * comparable, column
    assert not unexplained


@pytest.mark.parametrize(
    ("sample", "column", "count"),
    [
        ("no_answer", "retransmission", 3),
        ("keepalive", "keep_alive", 4),
        ("keepalive", "keep_alive_ack", 4),
        ("zero_window", "zero_window", 4),
        ("port_reuse", "reused_ports", 2),
        ("loss_unseen", "lost_segment", 5),
        ("loss", "fast_retransmission", 4),
        # counts from tshark -Y tcp.analysis.<flag> on the committed captures
        ("duplicate", "retransmission", 7),
        ("duplicate", "spurious_retransmission", 5),
        ("duplicate", "duplicate_ack", 5),
        ("reorder", "out_of_order", 6),
        ("reorder", "duplicate_ack", 2),
    ],
)
def test_the_samples_show_what_they_were_made_for(sample, column, count) -> None:
    analysis = hskit.load(hskit.samples.path(sample)).analysis
    assert int(analysis[column].sum()) == count
