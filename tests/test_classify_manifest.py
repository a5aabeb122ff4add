"""Every connection of the sample captures gets exactly the labels of
``sample_pcaps/manifest.csv``, which its rule-based labeller derived from tshark's
header fields without hskit (``sample_pcaps/labeller.py``, ``LABELING.md``)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import SAMPLE_DIR

import hskit

MANIFEST = SAMPLE_DIR / "manifest.csv"
LABELS = ("handshake", "termination", "closer", "reset_by", "conn_state")
FOUR_TUPLE = ("client_ip", "client_port", "server_ip", "server_port")


def manifest() -> pd.DataFrame:
    if not MANIFEST.exists():
        return pd.DataFrame(columns=["file", "stream", *FOUR_TUPLE, *LABELS])
    return pd.read_csv(MANIFEST, dtype=str, keep_default_na=False)


FILES = sorted(manifest()["file"].unique())


def test_manifest_is_there():
    if not MANIFEST.exists() and not os.environ.get("CI"):
        pytest.skip(f"no {MANIFEST} in this checkout")
    assert FILES, f"{MANIFEST} lists no captures"


@pytest.mark.parametrize("file", FILES)
def test_every_connection_gets_exactly_its_manifest_labels(file, figures):
    expected = manifest().query("file == @file").set_index("stream")
    expected.index = expected.index.astype(int)
    ours = hskit.load(SAMPLE_DIR / file).connections.set_index("stream")
    ours.index = ours.index.astype(int)
    assert sorted(ours.index) == sorted(expected.index), "streams differ from the manifest"
    ours = ours.loc[expected.index]

    tuple_ours = ours[list(FOUR_TUPLE)].astype(str)
    wrong_tuple = (tuple_ours != expected[list(FOUR_TUPLE)]).any(axis=1)
    assert not wrong_tuple.any(), pd.concat(
        {"ours": tuple_ours[wrong_tuple], "manifest": expected.loc[wrong_tuple, FOUR_TUPLE]},
        axis=1,
    )
    lines = []
    matched = 0
    for label in LABELS:
        mine = ours[label].astype("string").fillna("")
        differs = mine != expected[label]
        matched += int((~differs).sum())
        lines += [
            f"stream {stream} {label}: hskit {mine[stream]!r}, "
            f"manifest {expected.at[stream, label]!r} ({expected.at[stream, 'note']})"
            for stream in expected.index[differs.to_numpy()]
        ]
    total = len(expected) * len(LABELS)
    figures(f"{file}: {len(expected)} connections, {matched}/{total} labels agree")
    assert not lines, "\n".join(lines)
