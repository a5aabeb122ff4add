"""The transfer findings' sums on hand-built evidence, for what no sample capture has:
ACKs of unseen data (counted for the direction of the data they acknowledge), two
streams of a server with as many marked segments (the worst is the lower number), two
servers, and a stream that is not a connection (left out).

Truth: the rules written in :mod:`hskit.diagnose.loss`, applied by hand to the tables.
"""

from __future__ import annotations

import pandas as pd

from hskit.diagnose.evidence import Evidence
from hskit.diagnose.loss import find_loss, find_retransmissions
from hskit.diagnose.table import Context, Thresholds

#: stream, from_client, payload, retransmitted, lost_data, acked_unseen
DIRECTIONS = [
    (0, False, 10, 2, 1, 0),
    (0, True, 5, 0, 0, 3),  # the client ACKed 3 segments the server sent unseen
    (1, False, 20, 2, 0, 0),
    (1, True, 4, 0, 1, 0),
    (2, True, 8, 1, 0, 0),  # another server
    (7, True, 9, 9, 9, 9),  # not a connection
]


def context() -> Context:
    table = pd.DataFrame(
        DIRECTIONS,
        columns=["stream", "from_client", "payload", "retransmitted", "lost_data", "acked_unseen"],
    ).set_index(["stream", "from_client"])
    connections = pd.DataFrame(
        {
            "stream": [0, 1, 2],
            "server_ip": ["10.0.0.1", "10.0.0.1", "10.0.0.2"],
            "server_port": [80, 80, 443],
            "server": ["10.0.0.1:80", "10.0.0.1:80", "10.0.0.2:443"],
            "start": [0.0, 1.0, 2.0],
            "end": [5.0, 6.0, 7.0],
        }
    )
    empty = pd.DataFrame({"stream": pd.Series([], dtype="int64")})
    evidence = Evidence(
        streams=pd.DataFrame(index=pd.Index([0, 1, 2], name="stream")),
        directions=table,
        syn_retries=empty,
        synacks=empty,
        gaps=empty,
        capture_end=7.0,
    )
    return Context(connections, pd.DataFrame(), 7.0, evidence)


def evidence_of(findings: pd.DataFrame) -> dict[str, str]:
    return dict(
        zip(findings["endpoint"].astype(str), findings["evidence"].astype(str), strict=True)
    )


def test_acks_of_unseen_data_count_for_the_data_direction_and_the_lower_stream_is_worst() -> None:
    found = find_loss(context(), Thresholds(loss_min_events=1))
    assert evidence_of(found) == {
        "10.0.0.1:80": "client→server: 1 signs of loss in 9 payload segments (11.1 %), "
        "worst stream 1 (1); server→client: 4 signs of loss in 30 payload segments "
        "(13.3 %), worst stream 0 (4) (segments after a gap, ACKs of unseen data, fast "
        "retransmissions)"
    }
    assert found["streams"].tolist() == [[0, 1]]


def test_equal_retransmissions_make_the_lower_stream_the_worst_and_each_server_apart() -> None:
    found = find_retransmissions(
        context(), Thresholds(retransmission_min=1, retransmission_rate=0.0)
    )
    assert evidence_of(found) == {
        "10.0.0.1:80": "server→client: 4 retransmitted in 30 payload segments (13.3 %), "
        "worst stream 0 (2)",
        "10.0.0.2:443": "client→server: 1 retransmitted in 8 payload segments (12.5 %), "
        "worst stream 2 (1)",
    }
    # the warning rate is 5 %: 13.3 % and 12.5 % are warnings
    assert found.set_index("endpoint")["severity"].astype(str).to_dict() == {
        "10.0.0.1:80": "warning",
        "10.0.0.2:443": "warning",
    }


def test_a_server_below_the_thresholds_is_no_finding() -> None:
    found = find_retransmissions(context(), Thresholds(retransmission_min=2))
    assert evidence_of(found).keys() == {"10.0.0.1:80"}
    assert find_loss(context(), Thresholds(loss_min_events=5)).empty
