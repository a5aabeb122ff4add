"""Zeek's conn_state and history on hand-built segments, each case derived from Zeek's rules.

A case is a list of packets ``(sender, flags, seq, payload_len[, window[, time]])`` between
client 10.0.0.1:40000 and server 10.0.0.2:80; sequence numbers are absolute and acks are
irrelevant to Zeek's history and state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hskit import schema
from hskit.classify.zeek import state as zeek_state
from hskit.classify.zeek import zeek_conn_fields, zeek_connections
from hskit.classify.zeek.ports import DEFAULT_LIKELY_SERVER_PORTS, bare_mode_ports
from hskit.direction import from_client, zeek_flipped

CLIENT = ("10.0.0.1", 40000)
SERVER = ("10.0.0.2", 80)
FLAG_BITS = {"S": schema.SYN, "A": schema.ACK, "F": schema.FIN, "R": schema.RST, "P": schema.PSH}

Packet = tuple  # (sender "c" | "s", flags like "SA", seq, payload_len[, window[, time]])


def segments(*packets: Packet, stream: int = 0) -> pd.DataFrame:
    """A schema-conformed segments table of one stream."""
    rows = []
    for number, packet in enumerate(packets):
        sender, flags, seq, length, window, time = (
            *packet,
            *(512, number * 0.01)[len(packet) - 4 :],
        )
        (src_ip, src_port), (dst_ip, dst_port) = (
            (CLIENT, SERVER) if sender == "c" else (SERVER, CLIENT)
        )
        rows.append(
            {
                "frame": number + 1,
                "ts": pd.Timestamp(1_700_000_000 + time, unit="s", tz="UTC"),
                "time": time,
                "stream": stream,
                "src_ip": src_ip,
                "dst_ip": dst_ip,
                "src_port": src_port,
                "dst_port": dst_port,
                "ip_version": 4,
                "flags": sum(FLAG_BITS[letter] for letter in flags),
                "seq": seq % 2**32,
                "ack": 0,
                "rel_seq": 0,
                "rel_ack": 0,
                "win": window,
                "payload_len": length,
                "from_client": sender == "c",
                "mss": pd.NA,
                "wscale": pd.NA,
                "sack_perm": False,
                "tfo": False,
                "ts_val": pd.NA,
                "ts_ecr": pd.NA,
                "ip_len": 40 + length,
                "checksum_ok": True,
            }
        )
    return schema.conform(pd.DataFrame(rows), schema.SEGMENT_DTYPES)


def fields(*packets: Packet, ports: frozenset[int] | None = None) -> tuple[str, str]:
    row = zeek_conn_fields(segments(*packets), likely_server_ports=ports).iloc[0]
    return str(row["conn_state"]), str(row["history"])


HANDSHAKE = (("c", "S", 100, 0), ("s", "SA", 900, 0), ("c", "A", 101, 0))


def test_complete_exchange_with_fin_close_is_SF():
    packets = (
        *HANDSHAKE,
        ("c", "PA", 101, 10),
        ("s", "A", 901, 0),
        ("s", "PA", 901, 20),
        ("c", "A", 111, 0),
        ("c", "FA", 111, 0),
        ("s", "FA", 921, 0),
        ("c", "A", 112, 0),
    )
    assert fields(*packets) == ("SF", "ShADadFf")


def test_refused_connection_is_REJ():
    assert fields(("c", "S", 100, 0), ("s", "RA", 0, 0)) == ("REJ", "Sr")


def test_unanswered_syn_retransmitted_with_same_seq_is_S0_with_one_S():
    assert fields(("c", "S", 100, 0), ("c", "S", 100, 0)) == ("S0", "S")


def test_syn_with_a_new_sequence_number_restarts_the_endpoint_without_a_new_letter():
    # Zeek measures the SYN from the endpoint's initial sequence number, which it resets.
    assert fields(("c", "S", 100, 0), ("c", "S", 5000, 0)) == ("S0", "S")


def test_syn_with_a_new_sequence_number_after_a_close_is_logged_again():
    assert fields(*HANDSHAKE, ("c", "R", 101, 0), ("c", "S", 5000, 0))[1] == "ShARS"


def test_zeek_starts_a_new_connection_on_a_syn_with_another_initial_sequence_number():
    logged = zeek_connections(segments(("c", "S", 100, 0), ("c", "S", 5000, 0)))
    assert logged["history"].tolist() == ["S", "S"]


def test_established_connection_without_close_is_S1():
    assert fields(*HANDSHAKE) == ("S1", "ShA")


def test_synack_never_acknowledged_is_still_S1():
    assert fields(("c", "S", 100, 0), ("s", "SA", 900, 0)) == ("S1", "Sh")


def test_originator_reset_after_establishment_is_RSTO():
    assert fields(*HANDSHAKE, ("c", "R", 101, 0)) == ("RSTO", "ShAR")


def test_responder_reset_after_establishment_is_RSTR():
    assert fields(*HANDSHAKE, ("s", "RA", 901, 0)) == ("RSTR", "ShAr")


def test_syn_then_originator_reset_without_synack_is_RSTOS0():
    assert fields(("c", "S", 100, 0), ("c", "R", 101, 0)) == ("RSTOS0", "SR")


def test_synack_then_reset_without_syn_is_RSTRH():
    # A SYN-ACK first: Zeek makes its receiver the originator (^).
    assert fields(("s", "SA", 900, 0), ("s", "R", 901, 0)) == ("RSTRH", "^hr")


def test_syn_then_fin_without_synack_is_SH():
    assert fields(("c", "S", 100, 0), ("c", "FA", 101, 0)) == ("SH", "SF")


def test_synack_then_fin_without_syn_is_SHR():
    assert fields(("s", "SA", 900, 0), ("s", "FA", 901, 0)) == ("SHR", "^hf")


def test_originator_close_without_reply_is_S2():
    assert fields(*HANDSHAKE, ("c", "FA", 101, 0)) == ("S2", "ShAF")


def test_responder_close_without_reply_is_S3():
    assert fields(*HANDSHAKE, ("s", "FA", 901, 0)) == ("S3", "ShAf")


def test_midstream_traffic_is_OTH():
    assert fields(("c", "PA", 5000, 10), ("s", "A", 900, 0)) == ("OTH", "Da")


def test_fin_then_reset_from_the_same_side_after_peer_fin_stays_SF():
    packets = (*HANDSHAKE, ("c", "FA", 101, 0), ("s", "FA", 901, 0), ("c", "R", 102, 0))
    assert fields(*packets) == ("SF", "ShAFfR")


def test_fin_rst_packet_is_I_once_per_direction():
    packets = (*HANDSHAKE, ("c", "FRA", 101, 0), ("c", "FRA", 101, 0))
    assert fields(*packets) == ("RSTO", "ShAI")


def test_syn_fin_packet_is_Q():
    assert fields(("c", "SF", 100, 0)) == ("SH", "Q")


def test_data_and_pure_acks_are_logged_once_per_direction():
    packets = (
        *HANDSHAKE,
        ("c", "PA", 101, 5),
        ("c", "PA", 106, 5),
        ("s", "A", 901, 0),
        ("s", "A", 901, 0),
        ("c", "A", 111, 0),
    )
    assert fields(*packets)[1] == "ShADa"


def test_fin_repeated_at_another_sequence_number_is_logged_again():
    packets = (*HANDSHAKE, ("c", "FA", 101, 0), ("c", "FA", 101, 0), ("c", "PFA", 101, 4))
    assert fields(*packets)[1] == "ShAFF"


def test_retransmitted_payload_is_logged_at_counts_1_and_10():
    copies = tuple(("c", "PA", 101, 10) for _ in range(11))  # 1 original + 10 retransmissions
    assert fields(*HANDSHAKE, *copies)[1] == "ShADTT"


def test_payload_below_the_highest_sequence_reached_is_a_retransmission():
    packets = (*HANDSHAKE, ("c", "PA", 101, 10), ("c", "PA", 111, 10), ("c", "PA", 105, 3))
    assert fields(*packets)[1] == "ShADT"


def test_a_fin_when_only_the_syn_was_sent_moves_the_sequence_without_a_retransmission():
    # Zeek resets last_seq from such a FIN (its > 2 GB connection rule) instead of counting T.
    assert fields(("c", "S", 100, 0), ("c", "PFA", 90, 5))[1] == "SF"
    assert fields(("c", "S", 100, 0), ("c", "PA", 101, 9), ("c", "PFA", 90, 5))[1] == "SDFT"


def test_sequence_numbers_wrapping_past_2_32_are_not_retransmissions():
    start = 2**32 - 5
    packets = (
        ("c", "S", start, 0),
        ("s", "SA", 900, 0),
        ("c", "PA", start + 1, 10),
        ("c", "PA", start + 11, 10),
    )
    assert fields(*packets)[1] == "ShD"


def test_zero_window_is_w_but_not_on_a_reset_or_after_the_peer_fin():
    packets = (*HANDSHAKE, ("s", "A", 901, 0, 0), ("s", "R", 901, 0, 0))
    assert fields(*packets)[1] == "ShAawr"
    after_fin = (*HANDSHAKE, ("c", "FA", 101, 0), ("s", "A", 901, 0, 0))
    assert fields(*after_fin)[1] == "ShAFa"


def test_port_heuristic_flips_a_connection_that_starts_from_the_server_port():
    packets = (("s", "PA", 900, 10), ("c", "A", 101, 0))
    assert fields(*packets, ports=frozenset({80})) == ("OTH", "^dA")
    assert fields(*packets, ports=frozenset()) == ("OTH", "Da")


def test_fields_cover_every_stream_with_the_schema_dtypes():
    table = pd.concat(
        [segments(*HANDSHAKE, stream=0), segments(("c", "S", 1, 0), stream=1)], ignore_index=True
    )
    result = zeek_conn_fields(table)
    assert result.index.dtype == np.uint32
    assert result.index.tolist() == [0, 1]
    assert result["conn_state"].dtype == schema.CONN_STATE_DTYPE
    assert result["history"].dtype == pd.StringDtype()
    assert result["conn_state"].tolist() == ["S1", "S0"]


def test_empty_segments_give_an_empty_frame():
    result = zeek_conn_fields(schema.empty_segments())
    assert len(result) == 0 and list(result.columns) == ["conn_state", "history"]


def test_zeek_ends_an_unanswered_attempt_after_5_seconds():
    packets = (
        ("c", "S", 100, 0, 512, 0.0),
        ("c", "PA", 101, 10, 512, 1.0),
        ("c", "PA", 111, 10, 512, 6.0),
        ("c", "FA", 121, 0, 512, 6.5),
    )
    logged = zeek_connections(segments(*packets))
    assert logged[["conn_state", "history"]].values.tolist() == [["S0", "SD"], ["SH", "DF"]]
    assert fields(*packets) == ("SH", "SDF")


def test_zeek_starts_a_new_connection_5_seconds_after_a_reset():
    packets = (
        *HANDSHAKE,
        ("c", "R", 101, 0, 512, 0.1),
        ("c", "PA", 101, 10, 512, 20.0),
        ("s", "R", 900, 0, 512, 20.1),
    )
    logged = zeek_connections(segments(*packets))
    assert logged[["conn_state", "history"]].values.tolist() == [["RSTO", "ShAR"], ["RSTRH", "Dr"]]
    assert (logged["orig_p"] == CLIENT[1]).all()


def test_zeek_starts_a_new_connection_on_a_syn_after_a_close():
    packets = (("c", "S", 100, 0), ("s", "RA", 0, 0), ("c", "S", 100, 0, 512, 1.0))
    logged = zeek_connections(segments(*packets))
    assert logged[["conn_state", "history"]].values.tolist() == [["REJ", "Sr"], ["S0", "S"]]


def test_zeek_does_not_cut_a_connection_with_packets_within_its_timers():
    packets = (*HANDSHAKE, ("c", "PA", 101, 10, 512, 200.0), ("s", "FA", 900, 0, 512, 400.0))
    assert len(zeek_connections(segments(*packets))) == 1


def test_zeek_cuts_a_connection_silent_for_5_minutes():
    packets = (*HANDSHAKE, ("c", "PA", 101, 10, 512, 301.0))
    assert zeek_connections(segments(*packets))["history"].tolist() == ["ShA", "D"]


@pytest.mark.parametrize("seed", range(5))
def test_state_machine_composition_equals_applying_packets_one_by_one(seed):
    rng = np.random.default_rng(seed)
    group = np.sort(rng.integers(0, 40, 600))
    classes = rng.integers(0, 64, 600)
    expected = np.zeros(40, dtype=np.int64)
    seen = np.zeros(40, dtype=bool)
    for g, c in zip(group, classes, strict=True):
        expected[g] = zeek_state.TRANSITIONS[c, expected[g]]
        seen[g] = True
    result = zeek_state.final_states(group, classes, 40)
    assert (result[seen] == expected[seen]).all()


def test_from_client_keeps_its_rule_without_ports_and_flips_midstream_with_them():
    table = segments(("s", "PA", 900, 10), ("c", "A", 101, 0))
    assert from_client(table).tolist() == [True, False]
    assert from_client(table, likely_server_ports={80}).tolist() == [False, True]
    with_syn = segments(("s", "PA", 900, 10), ("c", "S", 100, 0))
    assert from_client(with_syn, likely_server_ports={80}).tolist() == [False, True]


def test_zeek_flips_between_two_server_ports_only_towards_the_higher_port_as_server():
    both = frozenset({1080, 8000})
    flags = [schema.ACK, schema.ACK, schema.SYN | schema.ACK]
    flipped = zeek_flipped(flags, [1080, 8000, 8000], [8000, 1080, 1080], both)
    # WantConnection never flips a SYN-ACK between two likely server ports.
    assert flipped.tolist() == [True, False, False]


def test_a_syn_ack_answered_by_an_ack_is_flipped_and_one_answered_by_a_reset_is_not():
    """Zeek 5.1+ (zeek/zeek#2191): a connection that starts with a SYN-ACK its port
    heuristic leaves alone is flipped when the next packet is an ACK or data; a stealth
    scan's SYN-ACK, answered by a RST, keeps its sender as the originator."""
    acked = (("s", "SA", 900, 0), ("c", "A", 101, 0), ("c", "PA", 101, 5))
    assert fields(*acked, ports=frozenset()) == ("S1", "^hAD")
    reset = (("s", "SA", 900, 0), ("c", "R", 101, 0))
    assert fields(*reset, ports=frozenset()) == ("REJ", "Hr")


def test_bare_mode_ports_come_only_from_the_loaded_protocol_scripts():
    loads = ["base/protocols/conn", "base/protocols/ftp", "policy/protocols/conn/mac-logging"]
    assert bare_mode_ports(loads) == {21, 2811}
    assert bare_mode_ports(["base/frameworks/notice/weird"]) == frozenset()
    assert {21, 22, 80, 443, 502} <= DEFAULT_LIKELY_SERVER_PORTS
