"""``hskit.classify`` states: endpoint state intervals are legal RFC 9293 paths that
agree with the connection labels, on every capture in the repository and on hand-built
conversations; exact sequences for hand-built ones."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit import schema
from hskit.classify import classify
from hskit.classify.synthetic import Conversation, segments

# RFC 9293 figure 5, as (from, to) pairs. CLOSED → SYN_SENT / LISTEN are the opens.
FIGURE_5 = {
    ("CLOSED", "LISTEN"),
    ("CLOSED", "SYN_SENT"),
    ("LISTEN", "SYN_RECEIVED"),
    ("LISTEN", "SYN_SENT"),
    ("LISTEN", "CLOSED"),
    ("SYN_SENT", "SYN_RECEIVED"),
    ("SYN_SENT", "ESTABLISHED"),
    ("SYN_SENT", "CLOSED"),
    ("SYN_RECEIVED", "ESTABLISHED"),
    ("SYN_RECEIVED", "FIN_WAIT_1"),
    ("ESTABLISHED", "FIN_WAIT_1"),
    ("ESTABLISHED", "CLOSE_WAIT"),
    ("FIN_WAIT_1", "FIN_WAIT_2"),
    ("FIN_WAIT_1", "CLOSING"),
    ("FIN_WAIT_2", "TIME_WAIT"),
    ("CLOSING", "TIME_WAIT"),
    ("TIME_WAIT", "CLOSED"),
    ("CLOSE_WAIT", "LAST_ACK"),
    ("LAST_ACK", "CLOSED"),
}
# Figure 5 leaves out resets (RFC 9293 3.10.7): a RST closes any state.
FIRST_STATES = {"SYN_SENT", "LISTEN", "ESTABLISHED", "CLOSED"}


def hand_built() -> dict[str, Conversation]:
    """Conversations covering every handshake and termination label."""

    def opened(**kwargs: object) -> Conversation:
        return Conversation(**kwargs).client("S").server("S.").client(".")  # type: ignore[arg-type]

    return {
        "fin_4way": opened().client("F.").server(".").server("F.").client("."),
        "fin_3way": opened().server("F.").client("F.").server("."),
        "simultaneous_close": opened(isn_client=10)
        .client("F.")
        .server("F.", ack=11)
        .client(".")
        .server("."),
        "half_closed": opened().client("F.").server("."),
        "fin_then_reset": opened().client("F.").server(".").server("R."),
        "reset": opened().client("R."),
        "open": opened().client("P.", data=9),
        "refused": Conversation().client("S").server("R."),
        "no_answer": Conversation().client("S").client("S", seq=1000, at=1.0),
        "no_final_ack": Conversation().client("S").server("S."),
        "reset_in_handshake": Conversation().client("S").server("S.").client("R"),
        "simultaneous_open": Conversation()
        .client("S")
        .server("S", ack=0)
        .client("S.", seq=1000)
        .server("S.", seq=900000)
        .client("F.")
        .server("F.")
        .client("."),
        "midstream": Conversation()
        .client("P.", data=1)
        .server(".")
        .server("F.")
        .client(".")
        .client("F.")
        .server("."),
        "mid_close": opened().client("F.").server(".").server("F."),
        "rst_in_time_wait": opened().client("F.").server("F.").client(".").server("R", at=5.0),
        "duplicates": Conversation()
        .client("S", copies=2)
        .server("S.", copies=2)
        .client(".", copies=2)
        .client("F.", copies=2)
        .server("F.", copies=2)
        .client(".", copies=2),
        "syn_retransmitted": Conversation()
        .client("S")
        .client("S", seq=1000, at=1.0)
        .server("S.")
        .server("S.", seq=900000, at=2.0)
        .client("."),
        "keep_alive": opened(isn_client=1000).client(".", seq=1000, at=60.0).server("."),
        "tfo": Conversation(isn_client=1000)
        .client("S", data=50, tfo=True)
        .server("S.", ack=1051)
        .client(".", seq=1051)
        .server("F.")
        .client("F.")
        .server("."),
        "syn_fin": Conversation().client("SF"),
        "fin_rst": opened().client("FR."),
    }


def sequences(states: pd.DataFrame) -> dict[tuple[int, str], pd.DataFrame]:
    return {
        (int(stream), str(endpoint)): rows.reset_index(drop=True)
        for (stream, endpoint), rows in states.groupby(["stream", "endpoint"], observed=True)
    }


def path_problems(
    segments_table: pd.DataFrame, connections: pd.DataFrame, states: pd.DataFrame
) -> list[str]:
    """Everything illegal or contradicting the labels, as readable lines."""
    problems: list[str] = []
    flags_of_frame = dict(
        zip(segments_table["frame"].tolist(), segments_table["flags"].tolist(), strict=True)
    )
    capture_end = float(segments_table["time"].max())
    labelled = connections.set_index("stream")
    by_endpoint = sequences(states)
    for stream, row in labelled.iterrows():
        for endpoint in schema.ENDPOINTS:
            seq = by_endpoint.get((int(stream), endpoint))
            where = f"stream {stream} {endpoint}"
            if seq is None:
                problems.append(f"{where}: no states")
                continue
            names = seq["state"].astype(str).tolist()
            where = f"{where} {names}"
            if names[0] not in FIRST_STATES:
                problems.append(f"{where}: starts in {names[0]}")
            for i, (a, b) in enumerate(itertools.pairwise(names)):
                cause = seq["cause_frame"].iloc[i + 1]
                by_reset = not pd.isna(cause) and flags_of_frame[int(cause)] & schema.RST
                if (a, b) not in FIGURE_5 and not (b == "CLOSED" and by_reset):
                    problems.append(f"{where}: {a} -> {b} is not in RFC 9293")
            starts, ends = seq["start"].to_numpy(), seq["end"].to_numpy()
            if np.any(np.diff(starts) < 0) or np.any(ends < starts):
                problems.append(f"{where}: times go backwards")
            if not np.allclose(ends[:-1], starts[1:]):
                problems.append(f"{where}: an interval does not end where the next starts")
            if "CLOSED" in names[:-1]:
                problems.append(f"{where}: CLOSED before the end")
            if names[-1] == "CLOSED" and ends[-1] != starts[-1]:
                problems.append(f"{where}: the final CLOSED is not a zero-length marker")
            if names[-1] != "CLOSED" and ends[-1] != capture_end:
                problems.append(f"{where}: the last state does not run to the capture end")
            if "TIME_WAIT" in names and not pd.isna(row["time_wait_end"]):
                tw_end = ends[names.index("TIME_WAIT")]
                if row["termination"] != "simultaneous_close" and tw_end != row["time_wait_end"]:
                    problems.append(f"{where}: TIME_WAIT ends at {tw_end}, not time_wait_end")
            problems.extend(label_problems(where, endpoint, names, row))
    return problems


def label_problems(where: str, endpoint: str, names: list[str], row: pd.Series) -> list[str]:
    """What each label demands of the endpoint's path."""
    need: list[str] = []
    handshake, termination, closer = row["handshake"], row["termination"], row["closer"]
    if handshake == "complete":
        need += ["SYN_SENT", "ESTABLISHED"] if endpoint == "client" else ["LISTEN", "ESTABLISHED"]
    if handshake == "midstream" and names[0] != "ESTABLISHED":
        return [f"{where}: midstream must start ESTABLISHED"]
    if handshake == "refused":
        expected = ["SYN_SENT", "CLOSED"] if endpoint == "client" else ["CLOSED"]
        return [] if names == expected else [f"{where}: refused must be {expected}"]
    if termination in ("fin_4way", "fin_3way"):
        active = ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
        need += active if closer == endpoint else ["CLOSE_WAIT", "LAST_ACK"]
    if termination == "simultaneous_close":
        need += ["FIN_WAIT_1", "CLOSING"]
    if termination == "half_closed":
        need += ["FIN_WAIT_1"] if closer == endpoint else ["CLOSE_WAIT"]
    if termination in ("reset", "fin_then_reset") and names[-1] != "CLOSED":
        return [f"{where}: a {termination} must end CLOSED"]
    if termination == "open" and names[-1] != "ESTABLISHED":
        return [f"{where}: an open connection must end ESTABLISHED"]
    missing = [state for state in need if state not in names]
    return [f"{where}: {termination}/{handshake} but never {missing}"] if missing else []


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: Path(path).name)
def test_every_capture_has_legal_state_paths_matching_labels(capture):
    cap = hskit.load(capture)
    problems = path_problems(cap.segments, cap.connections, cap.states)
    print(f"{Path(capture).name}: {len(cap.connections)} connections, "
          f"{len(cap.states)} state intervals, {len(problems)} problems")  # fmt: skip
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(hand_built()))
def test_hand_built_conversation_has_legal_state_paths_matching_labels(name):
    table = segments(hand_built()[name])
    connections, states = classify(table)
    problems = path_problems(table, connections, states)
    assert not problems, "\n".join(problems)


def path(states: pd.DataFrame, endpoint: str) -> list[tuple[str, object]]:
    rows = states[states["endpoint"] == endpoint]
    return [
        (str(state), None if pd.isna(cause) else int(cause))
        for state, cause in zip(rows["state"], rows["cause_frame"], strict=True)
    ]


def test_fin_4way_paths_and_cause_frames():
    # frames: 1 S, 2 S., 3 ., 4 F. (client), 5 . (server), 6 F. (server), 7 . (client)
    _, states = classify(segments(hand_built()["fin_4way"]))
    assert path(states, "client") == [
        ("SYN_SENT", 1), ("ESTABLISHED", 2), ("FIN_WAIT_1", 4), ("FIN_WAIT_2", 5),
        ("TIME_WAIT", 6), ("CLOSED", None),
    ]  # fmt: skip
    assert path(states, "server") == [
        ("LISTEN", None), ("SYN_RECEIVED", 1), ("ESTABLISHED", 3), ("CLOSE_WAIT", 4),
        ("LAST_ACK", 6), ("CLOSED", 7),
    ]  # fmt: skip


def test_simultaneous_close_goes_through_closing_on_both_sides():
    # frames: 4 F. (client), 5 F. (server, not acking 4), 6 . (client), 7 . (server)
    _, states = classify(segments(hand_built()["simultaneous_close"]))
    assert path(states, "client")[2:] == [
        ("FIN_WAIT_1", 4), ("CLOSING", 5), ("TIME_WAIT", 7), ("CLOSED", None),
    ]  # fmt: skip
    assert path(states, "server")[3:] == [
        ("FIN_WAIT_1", 5), ("CLOSING", 4), ("TIME_WAIT", 6), ("CLOSED", None),
    ]  # fmt: skip


def test_refused_client_closes_at_rst_and_server_stays_closed():
    _, states = classify(segments(hand_built()["refused"]))
    assert path(states, "client") == [("SYN_SENT", 1), ("CLOSED", 2)]
    assert path(states, "server") == [("CLOSED", 2)]


def test_reset_closes_both_endpoints_at_the_rst():
    _, states = classify(segments(hand_built()["reset"]))
    assert path(states, "client")[-1] == ("CLOSED", 4)
    assert path(states, "server")[-1] == ("CLOSED", 4)


def test_time_wait_lasts_time_wait_seconds_after_the_last_ack():
    talk = Conversation().client("S", at=0.0).server("S.", at=0.1).client(".", at=0.2)
    talk.client("F.", at=1.0).server("F.", at=1.5).client(".", at=1.6)
    _, states = classify(segments(talk), time_wait=30.0)
    time_wait = states[(states["endpoint"] == "client") & (states["state"] == "TIME_WAIT")]
    assert time_wait[["start", "end"]].values.tolist() == [[1.5, pytest.approx(31.6)]]


def test_open_connection_states_end_at_the_capture_end():
    talk = Conversation().client("S", at=0.0).server("S.").client(".")
    other = Conversation(client_addr=("10.9.9.9", 1)).client("S", at=7.0)
    _, states = classify(segments(talk, other))
    established = states[(states["stream"] == 0) & (states["state"] == "ESTABLISHED")]
    assert established["end"].tolist() == [7.0, 7.0]


def test_midstream_starts_established_at_the_first_segment():
    _, states = classify(segments(hand_built()["midstream"]))
    assert path(states, "client")[0] == ("ESTABLISHED", 1)
    assert path(states, "server")[0] == ("ESTABLISHED", 1)
