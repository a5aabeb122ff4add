"""Captures bigger than memory: a Parquet dataset on disk, analysed bucket by bucket.

``convert`` streams a capture or a capture set through the native reader, chunk by chunk,
into a folder:

```
DATASET/
  dataset.json                     what was converted: load report, categories, buckets
  segments/bucket=07/part-0.parquet   the segments of the connections in bucket 7
  connections.parquet              hskit.classify's connections, one row per stream
  states.parquet                   endpoint state intervals
  streams.parquet                  stream -> bucket
```

A connection's bucket is its Community ID flow hash (:mod:`hskit.zeek.community_id`,
direction-independent) modulo the bucket count, so every segment of a connection is in
one bucket and each bucket is classified on its own, in memory bounded by its size.
``load_dataset`` gives a :class:`~hskit.capture.Capture` over the folder: connections and
states are read from their files, the segments of one stream from its bucket.

>>> import hskit
>>> hskit.convert("ring/", "dataset/")  # doctest: +SKIP
>>> cap = hskit.load_dataset("dataset/"); cap.connections.handshake.value_counts()  # doctest: +SKIP
"""

from __future__ import annotations

from hskit.dataset.capture import DatasetCapture, load_dataset
from hskit.dataset.convert import convert

__all__ = ["DatasetCapture", "convert", "load_dataset"]
