"""``hskit.classify``: how connections close, on hand-built segments whose expected
labels follow from RFC 9293 by hand (each test says why)."""

from __future__ import annotations

import pandas as pd
import pytest

from hskit.classify import classify
from hskit.classify.synthetic import Conversation, segments


def opened(**kwargs: object) -> Conversation:
    return Conversation(**kwargs).client("S", at=0.0).server("S.").client(".")  # type: ignore[arg-type]


def connection(*talks: Conversation, time_wait: float = 60.0) -> pd.Series:
    connections, _ = classify(segments(*talks), time_wait=time_wait)
    return connections.iloc[0]


def labels(row: pd.Series) -> tuple[object, ...]:
    return tuple(None if pd.isna(row[k]) else row[k] for k in ("termination", "closer", "reset_by"))


def test_fin_ack_fin_ack_is_fin_4way_and_time_wait_ends_after_last_ack():
    talk = opened().client("F.", at=1.0).server(".", at=1.1).server("F.", at=2.0)
    talk.client(".", at=2.5)
    row = connection(talk, time_wait=30.0)
    assert labels(row) == ("fin_4way", "client", None)
    assert row["time_wait_end"] == pytest.approx(32.5)


def test_server_first_fin_makes_server_the_closer():
    talk = opened().server("F.").client(".").client("F.").server(".")
    assert labels(connection(talk)) == ("fin_4way", "server", None)


def test_ack_and_fin_in_one_segment_is_fin_3way():
    talk = opened().client("F.").server("F.").client(".")
    assert labels(connection(talk)) == ("fin_3way", "client", None)


def test_fin_carrying_data_is_acknowledged_past_its_payload():
    # The peer's ACK must cover FIN seq + payload + 1; covering only the data is not enough.
    talk = opened(isn_client=1000).client("FP.", data=10)
    talk.server(".", ack=1011).server("F.", ack=1011).client(".")
    assert labels(connection(talk))[0] == "simultaneous_close"
    talk = opened(isn_client=1000).client("FP.", data=10)
    talk.server(".", ack=1012).server("F.").client(".")
    assert labels(connection(talk))[0] == "fin_4way"


def test_fin_acknowledgement_wraps_around_sequence_space():
    talk = opened(isn_client=2**32 - 3).client("P.", data=1).client("F.")
    talk.server("F.").client(".")
    row = connection(talk)
    assert row["termination"] == "fin_3way"


def test_fins_crossing_are_simultaneous_close():
    # Each FIN acknowledges only what was sent before the other side's FIN.
    talk = opened(isn_client=1000, isn_server=5000)
    talk.client("F.", at=1.0).server("F.", ack=1001, at=1.0005)
    talk.client(".", at=1.010).server(".", at=1.012)
    row = connection(talk, time_wait=60.0)
    assert labels(row) == ("simultaneous_close", "both", None)
    # each side leaves TIME_WAIT 60 s after its own FIN was acknowledged: the later one
    assert row["time_wait_end"] == pytest.approx(61.012)


def test_single_fin_is_half_closed():
    talk = opened().client("F.").server(".").server("P.", data=100).client(".")
    row = connection(talk)
    assert labels(row) == ("half_closed", "client", None)
    assert pd.isna(row["time_wait_end"])


def test_rst_after_fin_is_fin_then_reset():
    talk = opened().client("F.").server(".").server("R.")
    assert labels(connection(talk)) == ("fin_then_reset", "client", "server")


def test_rst_between_fins_and_last_ack_is_fin_then_reset():
    talk = opened().client("F.").server("F.").server("R")
    assert labels(connection(talk)) == ("fin_then_reset", "client", "server")


@pytest.mark.parametrize("flags", ["R", "R."])
def test_rst_with_or_without_ack_after_establishment_is_reset(flags):
    talk = opened().client("P.", data=5).server(flags)
    assert labels(connection(talk)) == ("reset", None, "server")


def test_fin_with_rst_is_a_reset():
    talk = opened().client("FR.")
    assert labels(connection(talk)) == ("reset", None, "client")


def test_rst_after_complete_close_keeps_the_fin_label_and_ends_time_wait():
    talk = opened().client("F.", at=1.0).server("F.", at=1.1).client(".", at=1.2)
    talk.server("R", at=3.0)
    row = connection(talk)
    assert labels(row) == ("fin_3way", "client", "server")
    assert row["time_wait_end"] == pytest.approx(3.0)


def test_connection_without_fin_or_rst_is_open():
    assert labels(connection(opened().client("P.", data=3).server("."))) == ("open", None, None)


def test_keep_alive_probe_is_neither_data_nor_a_close():
    talk = opened(isn_client=1000).client("P.", data=10).server(".")
    talk.client(".", seq=1010, data=1, at=60.0).server(".", at=60.001)
    talk.client(".", seq=1010, at=120.0).server(".", at=120.001)
    row = connection(talk)
    assert labels(row) == ("open", None, None)
    assert row["bytes_c2s"] == 10


def test_capture_ending_mid_close_has_no_time_wait_end():
    talk = opened().client("F.").server(".").server("F.")
    row = connection(talk)
    assert labels(row) == ("fin_4way", "client", None)
    assert pd.isna(row["time_wait_end"])


def test_unestablished_connection_is_not_established_whatever_follows():
    # e.g. a capture of the client's side only: SYN, ACKs, data, FIN, no SYN-ACK seen
    talk = Conversation().client("S").client(".", ack=77).client("F.", seq=1001, ack=77)
    row = connection(talk)
    assert (row["handshake"], row["termination"]) == ("no_answer", "not_established")
    assert row["closer"] == "client"
    assert pd.isna(connection(Conversation().client("S"))["closer"])
