"""The findings read the segments only through per-stream evidence, so evidence of any
split that keeps connections whole, put together, is the evidence of the whole capture,
and gives the same findings; and it is small: a few rows per connection, not per segment.
"""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import pytest

import hskit
from hskit.diagnose import FINDERS, diagnose, diagnose_evidence, diagnosis_steps
from hskit.diagnose.evidence import (
    DIRECTION_COUNTS,
    concat_evidence,
    finished,
    stream_evidence,
)
from hskit.diagnose.window import segment_signs, stall_gaps

#: samples whose findings use every evidence table: loss, retransmissions, zero window,
#: stalls, SYN floods with cookie signs, unanswered SYNs with backoff, slow handshakes.
SAMPLES = [
    "loss", "loss_unseen", "zero_window", "syn_flood", "no_answer", "slow_handshake",
    "busy_server", "port_reuse",
]  # fmt: skip


def evidence_in_parts(segments: pd.DataFrame, parts: int) -> list:
    """The evidence of ``segments`` split by ``stream % parts`` (each connection whole)."""
    pieces = []
    for rest in range(parts):
        part = segments[segments["stream"].to_numpy() % parts == rest].reset_index(drop=True)
        pieces.append(stream_evidence(part, hskit.analyze(part)))
    return pieces


@pytest.mark.parametrize("name", SAMPLES)
def test_evidence_of_parts_put_together_is_the_evidence_of_the_whole(name: str) -> None:
    cap = hskit.load(hskit.samples.path(name), progress=False)
    whole = stream_evidence(cap.segments, hskit.analyze(cap.segments))
    joined = concat_evidence(evidence_in_parts(cap.segments, 3))
    for field in fields(whole):
        expected, got = getattr(whole, field.name), getattr(joined, field.name)
        if field.name == "capture_end":
            assert got == expected
        elif field.name == "synacks":  # capture order in the whole, stream order joined
            expected = expected.sort_values("stream", kind="stable", ignore_index=True)
            pd.testing.assert_frame_equal(got, expected)
        else:
            pd.testing.assert_frame_equal(got, expected)
    findings = diagnose_evidence(joined, cap.connections, cap.states)
    pd.testing.assert_frame_equal(findings, diagnose(cap.segments, cap.connections, cap.states))


@pytest.mark.parametrize("name", ["busy_server", "loss", "zero_window"])
def test_evidence_has_a_few_rows_per_connection_not_one_per_segment(name: str) -> None:
    cap = hskit.load(hskit.samples.path(name), progress=False)
    evidence = stream_evidence(cap.segments, hskit.analyze(cap.segments))
    connections = len(cap.connections)
    assert len(evidence.streams) == connections
    assert len(evidence.directions) <= 2 * connections
    assert len(evidence.synacks) <= cap.connections["synack_count"].sum()
    assert len(evidence.syn_retries) < cap.connections["syn_count"].sum()
    rows = sum(
        len(table)
        for table in (
            evidence.streams,
            evidence.directions,
            evidence.synacks,
            evidence.syn_retries,
            evidence.gaps,
        )
    )
    assert rows < len(cap.segments) / 2  # fmt: skip


def test_evidence_of_no_segments_has_no_capture_end() -> None:
    empty = hskit.schema.empty_segments()
    evidence = stream_evidence(empty, hskit.analyze(empty))
    assert evidence.capture_end is None and evidence.directions.empty


@pytest.mark.parametrize("name", ["busy_server", "loss", "syn_flood"])
def test_diagnosis_in_steps_gives_way_between_them_and_finds_what_the_parts_find(
    name: str,
) -> None:
    """The live capture's findings thread runs ``diagnose`` step by step, letting the
    tables go first between steps: one pause after the analysis, after each of the
    evidence's five stages and after each finder; the findings equal those found from
    the evidence of a 3-way split (a path that does not go through the steps)."""
    cap = hskit.load(hskit.samples.path(name), progress=False)
    pauses: list[int] = []
    steps = diagnosis_steps(cap.segments, cap.connections, cap.states)
    findings = finished(steps, lambda: pauses.append(len(pauses)))
    assert len(pauses) == 1 + 5 + len(FINDERS)
    joined = concat_evidence(evidence_in_parts(cap.segments, 3))
    pd.testing.assert_frame_equal(findings, diagnose_evidence(joined, cap.connections, cap.states))
    assert not findings.empty


@pytest.mark.parametrize("name", [*SAMPLES, "zero_window_stall", "reorder"])
def test_stall_gaps_and_direction_counts_are_what_group_bys_over_the_segments_give(
    name: str,
) -> None:
    """The stall gaps and per-direction counts (built with NumPy from a stable sort on
    the stream) equal pandas group-bys over ``(stream, gap)`` and ``(stream, from_client)``
    of every segment: each gap from its progress segment to the next one (or its last
    segment), each direction's counts and zero-window times."""
    cap = hskit.load(hskit.samples.path(name), progress=False)
    segments, signs = cap.segments, segment_signs(cap.segments)
    gap = signs["progress"].groupby(segments["stream"], sort=False).cumsum()
    rows = segments[["stream", "time"]].assign(gap=gap, trying=signs["trying"])
    gaps = (
        rows.groupby(["stream", "gap"], sort=True)
        .agg(start=("time", "first"), last=("time", "last"), trying=("trying", "sum"))
        .reset_index()
    )
    gaps["end"] = gaps.groupby("stream")["start"].shift(-1).fillna(gaps["last"])
    pd.testing.assert_frame_equal(stall_gaps(segments), gaps[["stream", "start", "end", "trying"]])

    evidence = stream_evidence(segments, cap.analysis)
    analysis = cap.analysis
    syn = (segments["flags"].to_numpy() & hskit.schema.SYN) != 0
    zero_window_time = segments["time"].where(signs["zero_window"])
    table = pd.DataFrame(
        {
            "stream": segments["stream"].astype("int64"),
            "from_client": segments["from_client"].astype(bool),
            "payload": segments["payload_len"] > 0,
            "retransmitted": analysis["retransmission"] & ~syn,
            "lost_data": analysis["lost_segment"] | analysis["fast_retransmission"],
            "acked_unseen": analysis["ack_lost_segment"],
            "zero_windows": signs["zero_window"],
            "probes": signs["probe"],
            "zero_window_first": zero_window_time,
            "zero_window_last": zero_window_time,
        }
    )
    grouped = table.groupby(["stream", "from_client"], sort=True)
    expected = (
        grouped[list(DIRECTION_COUNTS)]
        .sum()
        .assign(
            zero_window_first=grouped["zero_window_first"].min(),
            zero_window_last=grouped["zero_window_last"].max(),
        )
    )
    pd.testing.assert_frame_equal(evidence.directions, expected)
