"""Connections counted by label: what ``hskit summary`` prints and ``df.hs.summary()`` returns.

>>> import pandas as pd
>>> count_labels(pd.Series(["a", "b", "a", None], name="x")).to_dict()
{'a': 2, 'b': 1, 'NA': 1}
"""

from __future__ import annotations

import pandas as pd

#: the label columns counted, in this order.
COUNTED: tuple[str, ...] = ("handshake", "termination", "conn_state")
#: how a missing label is counted.
MISSING = "NA"


def count_labels(labels: pd.Series) -> pd.Series:
    """How often each label of ``labels`` occurs, most frequent first, without zeros.

    Missing labels count as ``"NA"``; the result is named after ``labels``.
    """
    counts = labels.astype("string").fillna(MISSING).value_counts(sort=True)
    counts = counts[counts > 0].astype("int64")
    counts.index = counts.index.astype(object)
    return counts.rename(labels.name).rename_axis(None)


def label_counts(connections: pd.DataFrame, columns: tuple[str, ...] = COUNTED) -> pd.DataFrame:
    """Connections counted by each label of ``columns``: one row per (column, label).

    >>> label_counts(cap.connections).loc["handshake"]  # doctest: +SKIP
    """
    counts = {column: count_labels(connections[column]) for column in columns}
    return pd.concat(counts, names=["column", "label"]).rename("connections").to_frame()
