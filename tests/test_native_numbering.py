"""The compiled stream numbering of the native reader against tshark's own ``tcp.stream``.

A capture made with scapy interleaves many connections over few endpoints, so 4-tuples
are reused with new initial sequence numbers, SYNs are retransmitted with the same one,
some connections are caught mid-stream, some servers answer with a fresh SYN-ACK and
sequence numbers wrap around 2**32. It is loaded whole and in chunks small enough that
connections cross many chunk boundaries; stream numbers and relative sequence and
acknowledgement numbers must be tshark's, row for row.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import CRAFTED_LINK

import hskit
from hskit import native
from hskit.native.chunks import MIN_CHUNK_SIZE

#: connections in the capture, and endpoints they are drawn from (few: 4-tuples repeat)
CONNECTIONS, CLIENTS, CLIENT_PORTS, SERVERS = 120, 3, 4, 2


def _connection(rng: random.Random, client: tuple[str, int], server: tuple[str, int]) -> list:
    """One connection's segments as ``(from_client, flags, seq, ack, payload_len)``."""
    isn_c, isn_s = rng.randrange(2**32), rng.randrange(2**32)
    if rng.random() < 0.15:  # close to the wrap of the sequence space
        isn_c = 2**32 - rng.randrange(1, 50)
    c, s = (isn_c + 1) % 2**32, (isn_s + 1) % 2**32
    midstream = rng.random() < 0.1
    segments = [] if midstream else [(True, "S", isn_c, 0, 0)]
    if not midstream and rng.random() < 0.2:  # the SYN retransmitted: same ISN
        segments.append((True, "S", isn_c, 0, 0))
    if not midstream:
        segments.append((False, "SA", isn_s, c, 0))
        if rng.random() < 0.15:  # a fresh SYN-ACK with a new sequence number
            isn_s = rng.randrange(2**32)
            s = (isn_s + 1) % 2**32
            segments.append((False, "SA", isn_s, c, 0))
        segments.append((True, "A", c, s, 0))
    for _ in range(rng.randrange(1, 6)):
        size = rng.randrange(1, 300)
        if rng.random() < 0.5:
            segments.append((True, "PA", c, s, size))
            c = (c + size) % 2**32
        else:
            segments.append((False, "PA", s, c, size))
            s = (s + size) % 2**32
    segments += [(True, "FA", c, s, 0), (False, "FA", s, (c + 1) % 2**32, 0)]
    segments.append((True, "A", (c + 1) % 2**32, (s + 1) % 2**32, 0))
    return segments


@pytest.fixture(scope="module")
def many_connections(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scapy = pytest.importorskip("scapy.all")
    rng = random.Random(12)
    pending: list[list] = []
    for number in range(CONNECTIONS):
        version = 6 if number % 10 == 0 else 4
        client_host = rng.randrange(CLIENTS)
        client = (f"fd00::{client_host + 1}" if version == 6 else f"10.0.0.{client_host + 1}",
                  40000 + rng.randrange(CLIENT_PORTS))  # fmt: skip
        server_host = rng.randrange(SERVERS)
        server = (f"fd00::1:{server_host + 1}" if version == 6 else f"10.0.1.{server_host + 1}",
                  80)  # fmt: skip
        pending.append([(client, server, *segment) for segment in _connection(rng, client, server)])
    # interleave: a few connections open at a time, each keeping its own order
    rows, open_now = [], []
    while pending or open_now:
        while pending and len(open_now) < 4:
            open_now.append(pending.pop(0))
        connection = rng.choice(open_now)
        rows.append(connection.pop(0))
        if not connection:
            open_now.remove(connection)
    packets = []
    for number, (client, server, from_client, flags, seq, ack, size) in enumerate(rows):
        (src, sport), (dst, dport) = (client, server) if from_client else (server, client)
        ip = scapy.IPv6(src=src, dst=dst) if ":" in src else scapy.IP(src=src, dst=dst)
        packet = scapy.Ether(**CRAFTED_LINK) / ip / scapy.TCP(sport=sport, dport=dport, flags=flags,
                                                 seq=seq, ack=ack)  # fmt: skip
        if size:
            packet = packet / scapy.Raw(bytes(size))
        packet.time = 1_700_000_000 + number / 1000
        packets.append(packet)
    path = tmp_path_factory.mktemp("numbering") / "many_connections.pcap"
    scapy.wrpcap(str(path), packets)
    return path


def _tshark_numbers(tshark: str, path: Path) -> np.ndarray:
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq",
         "-e", "tcp.ack"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return np.array([line.split("\t") for line in out.splitlines()], dtype=np.int64)


@pytest.mark.parametrize("chunk_size", [native.LOAD_CHUNK_SIZE, 300, MIN_CHUNK_SIZE])
def test_stream_numbers_are_tsharks_across_chunks(
    tshark: str, many_connections: Path, chunk_size: int
) -> None:
    expected = _tshark_numbers(tshark, many_connections)
    cap = hskit.load(many_connections, backend="native", progress=False, chunk_size=chunk_size)
    got = cap.segments[["stream", "rel_seq", "rel_ack"]].to_numpy(np.int64)
    np.testing.assert_array_equal(got, expected)
    # the capture exercises what it is for: reused 4-tuples and many connections
    tuples = cap.segments[["src_ip", "src_port", "dst_ip", "dst_port"]].astype(str)
    distinct = tuples.apply(lambda r: frozenset(((r.iloc[0], r.iloc[1]), (r.iloc[2], r.iloc[3]))),
                            axis=1).nunique()  # fmt: skip
    assert expected[:, 0].max() + 1 > 2 * distinct


def test_port_reuse_sample_is_numbered_like_tshark_in_tiny_chunks(tshark: str) -> None:
    path = Path(__file__).parent.parent / "sample_pcaps" / "port_reuse.pcap"
    expected = _tshark_numbers(tshark, path)
    cap = hskit.load(path, backend="native", progress=False, chunk_size=MIN_CHUNK_SIZE)
    got = cap.segments[["stream", "rel_seq", "rel_ack"]].to_numpy(np.int64)
    np.testing.assert_array_equal(got, expected)


def test_key_ids_are_first_appearance_numbers_of_runs_and_alternating_keys() -> None:
    """Keys repeated in runs, taking turns two or three at a time and new, over several
    calls (the table grows between them): ids equal a dict's order of first appearance."""
    from hskit.native.keys import KeyIds

    rng = np.random.default_rng(8)
    ids, seen = KeyIds(), {}
    for _ in range(30):
        pool = rng.integers(-3, 3, (int(rng.integers(1, 6)), 2)) * 2**40  # few keys, some shared
        picks = rng.integers(0, len(pool), int(rng.integers(0, 400)))
        if rng.random() < 0.5:  # two keys taking turns
            picks = np.arange(len(picks)) % min(2, len(pool))
        keys = pool[picks]
        fresh = rng.integers(-(2**62), 2**62, (int(rng.integers(0, 50)), 2))
        keys = np.concatenate([keys, fresh])[rng.permutation(len(keys) + len(fresh))]
        expected = [seen.setdefault((int(a), int(b)), len(seen)) for a, b in keys]
        assert ids.ids(keys[:, 0], keys[:, 1]).tolist() == expected
    assert len(ids) == len(seen)


def test_a_key_registry_holds_up_to_its_most_keys_then_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ids are 32-bit: the registry's room stops at ``_MOST_KEYS`` (here made 100) rather
    than doubling past it, every key up to it gets its id, and one more key is refused
    with an ``OverflowError``."""
    from hskit.native import keys as registry

    monkeypatch.setattr(registry, "_MOST_KEYS", 100)
    ids = registry.KeyIds()
    assert ids.ids(np.arange(60), np.zeros(60, np.int64)).tolist() == list(range(60))
    assert ids.ids(np.arange(60, 100), np.zeros(40, np.int64)).tolist() == list(range(60, 100))
    with pytest.raises(OverflowError, match="more than 100 keys"):
        ids.ids(np.array([100]), np.array([0]))
