"""``hskit.dask``: the same analysis on a Dask cluster (``pip install "hskit[dask]"``).

Segments are read one partition per file (:func:`read_segments`), shuffled so each
connection is whole in one partition (:func:`by_connection`), and classified by
hskit's own classifier per partition (:func:`classify`); the tables equal the
in-memory ones; :func:`convert` writes the Parquet dataset of :func:`hskit.convert` on
the cluster. Findings and the summary counts are computed from per-partition
reductions (:func:`diagnose`, :func:`summary`). Any Dask scheduler runs it: a
``dask.distributed.Client`` on a ``LocalCluster`` or on ``tcp://scheduler:8786``.

>>> import hskit.dask as hd
>>> segments = hd.read_segments("captures/")  # doctest: +SKIP
>>> connections, states = hd.compute(*hd.classify(segments))  # doctest: +SKIP
"""

from __future__ import annotations

from hskit.dask.classify import classify, compute, in_stream_order
from hskit.dask.convert import convert
from hskit.dask.diagnose import Summary, diagnose, summary
from hskit.dask.read import read_segments
from hskit.dask.regroup import by_connection

__all__ = [
    "Summary",
    "by_connection",
    "classify",
    "compute",
    "convert",
    "diagnose",
    "in_stream_order",
    "read_segments",
    "summary",
]
