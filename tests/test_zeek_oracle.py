"""Agreement of hskit's Zeek fields with Zeek's own conn.log, and with the sample manifest.

The oracle (tests/data/zeek, kept in step with the project's shared oracle by its
sync.py) holds traces from Zeek's test suite and the TCP rows of the conn.log Zeek wrote
for each. Connections are matched on the 4-tuple (orig = client),
in order of appearance where a 4-tuple repeats; ``conn_state`` and ``history`` agreement
are measured separately, ``history`` without the letters that depend on Zeek's
application analyzers (manifest column ``history_letters_app_dependent``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE_DIR

import hskit
from hskit.classify.zeek import zeek_conn_fields, zeek_connections
from hskit.classify.zeek.ports import DEFAULT_LIKELY_SERVER_PORTS, bare_mode_ports

CONN_STATE_AGREEMENT = 0.97
HISTORY_AGREEMENT = 0.90
TUPLE = ["orig_h", "orig_p", "resp_h", "resp_p"]

#: Disagreements explained by looking at the packets: (test, "orig_h:orig_p>resp_h:resp_p").
KNOWN_REASONS: dict[tuple[str, str], str] = {}
#: Sample-manifest disagreements explained the same way: (file, stream).
KNOWN_SAMPLE_REASONS: dict[tuple[str, int], str] = {}


def _manifest(oracle: Path) -> pd.DataFrame:
    manifest = pd.read_csv(oracle / "manifest.csv", dtype=str, keep_default_na=False)
    return manifest[manifest["n_tcp_conns"].astype(int) > 0]


def _likely_server_ports(test: pd.Series) -> frozenset[int]:
    """Zeek's likely_server_ports for the test's command line (bare mode: loaded scripts)."""
    if test["bare_mode"] == "1":
        return bare_mode_ports(test["loads"].split(";"))
    return DEFAULT_LIKELY_SERVER_PORTS


def _without(letters: str, history: pd.Series) -> pd.Series:
    """``history`` without ``letters`` (either case; separators in ``letters`` ignored)."""
    history = history.fillna("").astype(str)
    for letter in sorted({char.upper() for char in letters if char.isalpha()}):
        history = history.str.replace(letter, "").str.replace(letter.lower(), "")
    return history


def _matched(test: pd.Series, oracle: Path) -> pd.DataFrame:
    """Zeek's rows of one test beside hskit's, matched on the 4-tuple and its occurrence."""
    expected = pd.read_csv(
        oracle / "expected" / f"{test['test']}.csv", dtype=str, keep_default_na=False
    )
    segments = hskit.load(oracle / test["trace_file"], backend="auto").segments
    computed = zeek_connections(segments, likely_server_ports=_likely_server_ports(test))
    computed = computed.astype({"orig_p": str, "resp_p": str})
    for frame in (expected, computed):
        parts = frame[TUPLE].astype(str)
        frame["tuple"] = (
            parts["orig_h"] + ":" + parts["orig_p"] + ">" + parts["resp_h"] + ":" + parts["resp_p"]
        )
        frame["occurrence"] = frame.groupby("tuple").cumcount()
    matched = expected[["tuple", "occurrence", "conn_state", "history"]].merge(
        computed[["tuple", "occurrence", "conn_state", "history"]].astype({"conn_state": str}),
        on=["tuple", "occurrence"],
        how="left",
        suffixes=("_zeek", "_hskit"),
    )
    app_letters = test["history_letters_app_dependent"]
    matched["history_zeek"] = _without(app_letters, matched["history_zeek"])
    matched["history_hskit"] = _without(app_letters, matched["history_hskit"])
    matched.insert(0, "test", test["test"])
    return matched


@pytest.fixture(scope="module")
def oracle_rows(zeek_oracle_dir: Path) -> pd.DataFrame:
    """Every TCP connection of the oracle, Zeek's fields beside hskit's."""
    manifest = _manifest(zeek_oracle_dir)
    return pd.concat([_matched(test, zeek_oracle_dir) for _, test in manifest.iterrows()])


def test_zeek_fields_agree_with_zeek_conn_log_on_every_oracle_trace(oracle_rows, figures):
    rows = oracle_rows
    same_state = rows["conn_state_zeek"] == rows["conn_state_hskit"]
    same_history = rows["history_zeek"] == rows["history_hskit"]
    state_share, history_share = same_state.mean(), same_history.mean()
    figures(
        f"{rows['test'].nunique()} traces, {len(rows)} TCP connections: conn_state "
        f"{same_state.sum()}/{len(rows)} ({state_share:.1%}), history "
        f"{same_history.sum()}/{len(rows)} ({history_share:.1%})"
    )
    for _, row in rows[~(same_state & same_history)].iterrows():
        reason = KNOWN_REASONS.get((row["test"], row["tuple"]), "UNEXPLAINED")
        figures(
            f"  {row['test']} {row['tuple']}#{row['occurrence']}: Zeek "
            f"{row['conn_state_zeek']} {row['history_zeek']!r}, hskit "
            f"{row['conn_state_hskit']} {row['history_hskit']!r}: {reason}"
        )
    assert state_share >= CONN_STATE_AGREEMENT
    assert history_share >= HISTORY_AGREEMENT


def test_known_reasons_name_real_disagreements(oracle_rows):
    rows = oracle_rows
    differ = rows[
        (rows["conn_state_zeek"] != rows["conn_state_hskit"])
        | (rows["history_zeek"] != rows["history_hskit"])
    ]
    assert set(KNOWN_REASONS) <= set(zip(differ["test"], differ["tuple"], strict=True))


def test_zeek_conn_state_matches_the_sample_manifest(figures):
    manifest_path = SAMPLE_DIR / "manifest.csv"
    if not manifest_path.is_file():
        pytest.skip(f"no sample manifest yet ({manifest_path})")
    manifest = pd.read_csv(
        manifest_path, dtype={"file": str, "stream": int, "conn_state": str}, keep_default_na=False
    )
    manifest = manifest[manifest["conn_state"] != ""]  # scenarios without a Zeek label
    disagreements = []
    agreeing = 0
    for file, expected in manifest.groupby("file"):
        fields = zeek_conn_fields(hskit.load(SAMPLE_DIR / file, backend="auto").segments)
        computed = fields["conn_state"].astype(str).reindex(expected["stream"].to_numpy())
        for stream, want, got in zip(
            expected["stream"], expected["conn_state"], computed, strict=True
        ):
            agreeing += want == got
            if want != got and (file, stream) not in KNOWN_SAMPLE_REASONS:
                disagreements.append(f"{file} stream {stream}: manifest {want}, hskit {got}")
    figures(
        f"{manifest['file'].nunique()} sample captures, {len(manifest)} connections with a "
        f"Zeek label: conn_state {agreeing}/{len(manifest)}"
    )
    assert not disagreements, "\n".join(disagreements)
