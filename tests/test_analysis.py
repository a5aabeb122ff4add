"""``hskit.analyze`` on hand-built conversations: each Wireshark rule, its precedence and
the window-scale cases, derived from the rules (packet-tcp.c, Wireshark 4.0) rather than
from tshark (tests/test_analysis_tshark.py compares with tshark itself)."""

from __future__ import annotations

import pandas as pd

import hskit
from hskit.classify.synthetic import Conversation, segments
from hskit.schema import ANALYSIS_DTYPES, ANALYSIS_FLAGS


def flagged(table: pd.DataFrame) -> list[list[str]]:
    """Per segment, the names of its set flags."""
    return [[name for name in ANALYSIS_FLAGS if row[name]] for _, row in table.iterrows()]


def opened(**syn_options) -> Conversation:
    talk = Conversation()
    talk.client("S", **syn_options.get("syn", {})).server("S.", **syn_options.get("synack", {}))
    return talk.client(".")


def test_empty_segments_give_an_empty_analysis_with_the_schema() -> None:
    table = hskit.analyze(hskit.schema.empty_segments())
    assert list(table.columns) == list(ANALYSIS_DTYPES) and table.empty


def test_analysis_is_aligned_with_the_segments_index() -> None:
    table = segments(opened())
    table.index = [10, 20, 30]
    assert list(hskit.analyze(table).index) == [10, 20, 30]


def test_repeated_syns_are_retransmissions() -> None:
    talk = Conversation().client("S").client("S", seq=1000, at=1.0).client("S", seq=1000, at=3.0)
    assert flagged(hskit.analyze(segments(talk))) == [[], ["retransmission"], ["retransmission"]]


def test_resent_payload_soon_after_is_out_of_order_later_a_retransmission() -> None:
    talk = opened().client("P.", data=100).client("P.", data=100)
    talk.client("P.", data=100, seq=1001, at=talk._time + 0.0001)  # within the initial RTT
    talk.client("P.", data=100, seq=1001, at=talk._time + 1.0)
    result = flagged(hskit.analyze(segments(talk)))
    assert result[-2:] == [["out_of_order"], ["retransmission"]]


def test_three_duplicate_acks_make_the_resend_a_fast_retransmission() -> None:
    talk = opened().client("P.", data=100).client("P.", data=100, seq=1101 + 100)
    talk.server(".", ack=1101).server(".", ack=1101).server(".", ack=1101)
    talk.client("P.", data=100, seq=1101, at=talk._time + 0.005)
    table = hskit.analyze(segments(talk))
    assert flagged(table)[4] == ["lost_segment"]
    assert flagged(table)[-4:] == [[], ["duplicate_ack"], ["duplicate_ack"],
                                   ["retransmission", "fast_retransmission"]]  # fmt: skip
    assert table["duplicate_ack_num"].tolist()[-3:-1] == [1, 2]


def test_keep_alive_and_its_ack_are_not_retransmissions_nor_duplicates() -> None:
    talk = opened().client(".", seq=1000, at=10.0).server(".", at=10.001)
    assert flagged(hskit.analyze(segments(talk)))[-2:] == [["keep_alive"], ["keep_alive_ack"]]


def test_zero_window_then_probe_its_ack_then_update() -> None:
    talk = opened().server(".", win=0).client("P.", data=1, at=1.0)
    talk.server(".", win=0, ack=1001, at=1.001).server(".", win=512, ack=1001)
    result = flagged(hskit.analyze(segments(talk)))
    assert result[3:] == [["zero_window"], ["zero_window_probe"],
                          ["zero_window", "zero_window_probe_ack"], ["window_update"]]  # fmt: skip


def test_window_is_scaled_only_when_both_syns_carry_the_option() -> None:
    both = opened(syn={"wscale": 7}, synack={"wscale": 9}).client(".", win=63)
    one = opened(syn={"wscale": 7}).client(".", win=63)
    assert hskit.analyze(segments(both))["window"].tolist()[-1] == 63 << 7
    assert hskit.analyze(segments(one))["window"].tolist()[-1] == 63


def test_syns_are_never_scaled() -> None:
    table = hskit.analyze(segments(opened(syn={"wscale": 7}, synack={"wscale": 7})))
    assert table["window"].tolist()[:2] == [65535, 65535]


def test_ack_rtt_times_the_first_of_repeated_syns() -> None:
    talk = Conversation().client("S").client("S", seq=1000, at=1.0).server("S.", at=1.04)
    assert hskit.analyze(segments(talk))["ack_rtt"].round(6).tolist()[-1] == 1.04


def test_reused_ports_mark_the_second_connections_syn() -> None:
    first = opened().client("R.")
    second = Conversation(isn_client=5000, start=5.0).client("S")
    table = hskit.analyze(segments(first, second))
    assert table["reused_ports"].tolist() == [False, False, False, False, True]


def test_zeek_history_t_letters_agree_with_resent_payload_on_every_capture() -> None:
    """Zeek logs ``t``/``T`` for payload below the highest sequence sent: the segments
    the analysis marks retransmission or out-of-order with payload, per direction. The
    one exception: Zeek also logs ``T`` after a TCP Fast Open SYN that carried payload."""
    from conftest import ALL_CAPTURES

    disagree = []
    for capture in ALL_CAPTURES:
        cap = hskit.load(capture)
        segs, analysis, conns = cap.segments, cap.analysis, cap.connections
        resent = (analysis["retransmission"] | analysis["out_of_order"]) & (segs["payload_len"] > 0)
        tfo_syn = ((segs["flags"] & hskit.schema.SYN) != 0) & (segs["payload_len"] > 0)
        for by_client, letter in ((True, "T"), (False, "t")):
            side = segs.from_client == by_client
            marked = set(segs.stream[side & resent])
            excused = set(segs.stream[side & tfo_syn])
            for stream, history in zip(conns.stream, conns.history, strict=True):
                logged = (letter.swapcase() if "^" in history else letter) in history
                if logged != (stream in marked) and stream not in excused:
                    disagree.append((capture.name, stream, letter, history))
    assert not disagree
