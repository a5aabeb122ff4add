"""``hskit.classify``: how connections open, on hand-built segments whose expected
labels follow from RFC 9293 by hand (each test says why)."""

from __future__ import annotations

import pandas as pd
import pytest

from hskit import schema
from hskit.classify import classify
from hskit.classify.synthetic import Conversation, segments
from hskit.errors import SchemaError


def connection(*talks: Conversation, **kwargs: object) -> pd.Series:
    """The only (or first) connection of the conversations, classified."""
    connections, _ = classify(segments(*talks), **kwargs)  # type: ignore[arg-type]
    return connections.iloc[0]


def opened() -> Conversation:
    return Conversation().client("S").server("S.").client(".")


def test_three_way_handshake_is_complete_with_both_isns_and_rtts():
    talk = Conversation(isn_client=7, isn_server=4_000_000_000)
    talk.client("S", at=0.0).server("S.", at=0.010).client(".", at=0.015)
    row = connection(talk)
    assert row["handshake"] == "complete"
    assert (row["isn_client"], row["isn_server"]) == (7, 4_000_000_000)
    assert (row["syn_count"], row["synack_count"]) == (1, 1)
    assert row["rtt_syn_synack"] == pytest.approx(0.010)
    assert row["rtt_synack_ack"] == pytest.approx(0.005)
    assert row["handshake_time"] == pytest.approx(0.015)
    assert row["termination"] == "open"


def test_refused_connection_is_refused_and_reset_by_server():
    # RST+ACK acknowledging ISN + 1: what Linux sends when nothing listens.
    row = connection(Conversation().client("S").server("R."))
    assert row["handshake"] == "refused"
    assert row["termination"] == "not_established"
    assert row["reset_by"] == "server"
    assert pd.isna(row["handshake_time"])


def test_rst_without_acceptable_ack_does_not_refuse():
    # RFC 9293 3.10.7.3: in SYN-SENT a RST counts only with an acceptable ACK.
    wrong_ack = Conversation(isn_client=1000).client("S").server("R.", ack=5000)
    no_ack = Conversation().client("S").server("R", ack=0)
    connections, _ = classify(segments(wrong_ack, no_ack))
    assert connections["handshake"].tolist() == ["no_answer", "no_answer"]


def test_retransmitted_syns_without_reply_are_no_answer():
    talk = Conversation().client("S", at=0.0).client("S", seq=1000, at=1.0)
    talk.client("S", seq=1000, at=3.0)
    row = connection(talk)
    assert row["handshake"] == "no_answer"
    assert row["syn_count"] == 3
    assert row["isn_client"] == 1000 and pd.isna(row["isn_server"])


def test_syn_retransmission_counts_and_rtt_starts_at_the_answered_syn():
    talk = Conversation().client("S", at=0.0).client("S", seq=1000, at=1.0)
    talk.server("S.", at=1.020).client(".", at=1.021)
    row = connection(talk)
    assert (row["handshake"], row["syn_count"]) == ("complete", 2)
    assert row["rtt_syn_synack"] == pytest.approx(0.020)
    # tshark's initial_rtt runs from the most recent SYN (ts_mru_syn)
    assert row["handshake_time"] == pytest.approx(0.021)


def test_new_attempt_with_new_isn_is_what_the_synack_must_answer():
    # SYN isn 1000, then a new attempt with isn 5000: a SYN-ACK for the first is stale.
    stale = Conversation(isn_client=1000).client("S").client("S", seq=5000)
    stale.server("S.", ack=1001)
    fresh = Conversation(isn_client=1000).client("S").client("S", seq=5000)
    fresh.server("S.", ack=5001).client(".", seq=5001)
    connections, _ = classify(segments(stale, fresh))
    assert connections["handshake"].tolist() == ["no_answer", "complete"]
    assert connections["isn_client"].tolist() == [1000, 5000]


def test_synack_with_wrong_ack_does_not_complete_unless_the_client_takes_it():
    refused = Conversation(isn_client=1000).client("S").server("S.", ack=1005).client("R")
    assert connection(refused)["handshake"] == "no_answer"
    # The client acknowledged the server's ISN: it took the SYN-ACK as the answer (issue 18)
    taken = Conversation(isn_client=1000).client("S").server("S.", ack=1005).client(".")
    assert connection(taken)["handshake"] == "complete"
    unanswered = Conversation(isn_client=1000).client("S").server("S.", ack=1005)
    assert connection(unanswered.client(".", ack=7))["handshake"] == "no_answer"


def test_synack_retransmission_counts_and_rtt_ends_at_the_acked_synack():
    talk = Conversation().client("S", at=0.0).server("S.", at=0.010)
    talk.server("S.", seq=900000, at=1.010).client(".", at=1.011)
    row = connection(talk)
    assert (row["handshake"], row["synack_count"]) == ("complete", 2)
    assert row["rtt_synack_ack"] == pytest.approx(0.001)
    assert row["handshake_time"] == pytest.approx(1.011)


def test_final_ack_must_acknowledge_server_isn_plus_one():
    talk = Conversation(isn_server=900000).client("S").server("S.").client(".", ack=900000)
    assert connection(talk)["handshake"] == "no_final_ack"


def test_data_segment_completes_handshake_when_bare_ack_is_missing():
    talk = Conversation().client("S").server("S.").client("P.", data=100)
    assert connection(talk)["handshake"] == "complete"


def test_synack_without_final_ack_is_no_final_ack():
    talk = Conversation().client("S").server("S.").server("S.", seq=900000, at=1.0)
    row = connection(talk)
    assert row["handshake"] == "no_final_ack"
    assert row["termination"] == "not_established"


def test_client_rst_after_synack_is_reset_in_handshake():
    talk = Conversation().client("S").server("S.").client("R")
    row = connection(talk)
    assert row["handshake"] == "reset_in_handshake"
    assert row["reset_by"] == "client"


def test_simultaneous_open_is_established():
    talk = Conversation().client("S").server("S", ack=0)
    talk.client("S.", seq=1000).server("S.", seq=900000)
    row = connection(talk)
    assert row["handshake"] == "simultaneous_open"
    assert row["termination"] == "open"


def test_connection_without_syn_is_midstream():
    talk = Conversation().client("P.", data=10).server(".").client("F.").server("F.").client(".")
    row = connection(talk)
    assert row["handshake"] == "midstream"
    assert pd.isna(row["isn_client"]) and pd.isna(row["isn_server"])
    assert row["termination"] == "fin_3way"


def test_syn_with_fin_is_a_syn():
    row = connection(Conversation().client("SF"))
    assert (row["handshake"], row["syn_count"]) == ("no_answer", 1)


def test_syn_with_rst_is_a_reset_not_a_connection_attempt():
    row = connection(Conversation().client("SR"))
    assert row["syn_count"] == 0
    assert row["reset_by"] == "client"


def test_tfo_data_acknowledged_by_synack_is_tfo():
    used = Conversation(isn_client=1000).client("S", data=100, tfo=True)
    used.server("S.", ack=1101).client(".")
    cookie_request = Conversation().client("S", tfo=True).server("S.").client(".")
    refused_data = Conversation(isn_client=1000).client("S", data=100, tfo=True)
    refused_data.server("S.", ack=1001).client(".", seq=1001)
    connections, _ = classify(segments(used, cookie_request, refused_data))
    assert connections["handshake"].tolist() == ["complete"] * 3
    assert connections["tfo"].tolist() == [True, False, False]


def test_negotiated_options_come_from_both_syns():
    both = Conversation().client("SEW", mss=1460, wscale=7, sack_perm=True, ts_val=1, ts_ecr=0)
    both.server("S.E", mss=1400, wscale=9, sack_perm=True, ts_val=5, ts_ecr=1).client(".")
    one_sided = Conversation().client("SEW", mss=1460, wscale=7, sack_perm=True, ts_val=1)
    one_sided.server("S.EW", mss=1400).client(".")
    connections, _ = classify(segments(both, one_sided))
    first, second = connections.iloc[0], connections.iloc[1]
    assert (first["mss_client"], first["mss_server"]) == (1460, 1400)
    assert (first["wscale_client"], first["wscale_server"]) == (7, 9)
    assert first["sack_perm"] and first["timestamps"] and first["ecn"]
    # scaling is off unless both SYNs carry it; SYN-ACK with CWR is not ECN setup
    assert pd.isna(second["wscale_client"]) and pd.isna(second["wscale_server"])
    assert not second["sack_perm"] and not second["timestamps"] and not second["ecn"]
    assert second["mss_client"] == 1460


def test_duplicate_frames_are_counted_once():
    talk = Conversation().client("S", copies=2).server("S.", copies=2).client(".", copies=2)
    talk.client("P.", data=100, copies=2)
    row = connection(talk)
    assert row["handshake"] == "complete"
    assert (row["syn_count"], row["synack_count"]) == (1, 1)
    assert (row["packets_c2s"], row["packets_s2c"], row["bytes_c2s"]) == (3, 1, 100)


def test_ipv6_connection_is_classified_like_ipv4():
    talk = Conversation(client_addr=("2001:db8::1", 50000), server_addr=("2001:db8::2", 443))
    talk.client("S").server("S.").client(".").client("F.").server(".").server("F.").client(".")
    row = connection(talk)
    assert (row["ip_version"], row["client_ip"], row["server_port"]) == (6, "2001:db8::1", 443)
    assert (row["handshake"], row["termination"]) == ("complete", "fin_4way")


def test_identity_and_sizes_follow_the_client():
    talk = Conversation(client_addr=("10.1.1.1", 3333), server_addr=("10.2.2.2", 25))
    talk.client("S", at=0.0).server("S.").client(".").server("P.", data=40)
    talk.client("P.", data=7).client("P.", data=3, at=2.5)
    row = connection(talk)
    assert (row["client_ip"], row["client_port"]) == ("10.1.1.1", 3333)
    assert (row["server_ip"], row["server_port"]) == ("10.2.2.2", 25)
    assert (row["packets_c2s"], row["packets_s2c"]) == (4, 2)
    assert (row["bytes_c2s"], row["bytes_s2c"]) == (10, 40)
    assert row["duration"] == pytest.approx(2.5)


def test_output_follows_the_schema():
    connections, states = classify(segments(opened()))
    schema.check(connections, schema.CONNECTION_DTYPES, "connections")
    schema.check(states, schema.STATE_DTYPES, "states")


def test_empty_segments_give_empty_tables():
    connections, states = classify(schema.empty_segments())
    assert len(connections) == 0 and len(states) == 0
    schema.check(connections, schema.CONNECTION_DTYPES, "connections")


def test_likely_server_ports_orient_a_midstream_connection_like_zeek():
    # The capture starts with the server's data: without SYN its sender looks like the client.
    talk = Conversation(client_addr=("10.0.0.1", 40000), server_addr=("10.0.0.2", 80))
    talk.server("P.", data=100).client(".")
    plain = connection(talk)
    zeek_like = connection(talk, likely_server_ports=frozenset({80}))
    assert (plain["client_port"], plain["server_port"]) == (80, 40000)
    assert (zeek_like["client_port"], zeek_like["server_port"]) == (40000, 80)
    assert (zeek_like["packets_c2s"], zeek_like["bytes_s2c"]) == (1, 100)


def test_hskit_classify_is_callable_and_still_a_package():
    import hskit.classify
    import hskit.classify.zeek

    table = segments(opened())
    by_call, _ = hskit.classify(table)
    by_function, _ = classify(table)
    pd.testing.assert_frame_equal(by_call, by_function)
    assert callable(hskit.classify.zeek.zeek_conn_fields)


def test_any_segments_table_works_extra_columns_other_dtypes_or_a_subset():
    table = segments(opened().client("F.").server("F.").client("."), Conversation().client("S"))
    loose = table.assign(note="x").astype({"stream": "int64", "flags": "int64"})
    subset = table[table["stream"] == 1]
    assert classify(loose)[0]["termination"].tolist() == ["fin_3way", "not_established"]
    connections, states = classify(subset)
    assert connections["stream"].tolist() == [1]
    assert set(states["stream"]) == {1}


def test_missing_column_is_a_schema_error():
    with pytest.raises(SchemaError, match="seq"):
        classify(segments(opened()).drop(columns=["seq"]))
