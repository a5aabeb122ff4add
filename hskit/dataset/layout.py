"""Where a dataset keeps what, and the bucket of each connection.

>>> bucket_of(["1:nsF+CyuHj+gRdemh9jH9fNbMK+U="], 16).tolist()
[8]
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hskit.capture import LoadReport

#: version of the folder layout, checked when a dataset is opened.
FORMAT = "hskit-dataset/1"
META = "dataset.json"
SEGMENTS = "segments"
CONNECTIONS = "connections.parquet"
STATES = "states.parquet"
STREAMS = "streams.parquet"
#: where segments wait, bucket by bucket, until their bucket is classified.
STAGING = ".staging"
#: the folder of ``STAGING`` where each classified bucket's connections and states wait.
STAGED_TABLES = "tables"
#: the column of ``streams.parquet`` and the partition key of ``segments/``.
BUCKET = "bucket"


def bucket_folder(dataset: Path, bucket: int) -> Path:
    """``segments/bucket=K`` (hive partitioning, as pyarrow and Dask read it)."""
    return dataset / SEGMENTS / f"{BUCKET}={bucket}"


def bucket_of(community_ids: list[str], buckets: int) -> npt.NDArray[np.int64]:
    """The bucket of each connection: the first 8 bytes of its Community ID hash, modulo
    ``buckets``."""
    digests = (base64.b64decode(text.partition(":")[2])[:8] for text in community_ids)
    values = np.fromiter(
        (int.from_bytes(d, "big") % buckets for d in digests),
        dtype=np.int64,
        count=len(community_ids),
    )
    return values


@dataclass
class Meta:
    """``dataset.json``: what a dataset holds beside its tables."""

    report: LoadReport
    buckets: int
    #: categories of ``src_ip``/``dst_ip`` (and of the connections' addresses)
    addresses: list[str]
    #: categories of ``source`` for a capture set, else empty
    sources: list[str] = field(default_factory=list)
    #: time of the capture's last segment (states end there)
    capture_end: float = 0.0
    format: str = FORMAT

    def write(self, dataset: Path) -> None:
        (dataset / META).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, dataset: Path) -> Meta:
        data: dict[str, Any] = json.loads((dataset / META).read_text())
        if data.get("format") != FORMAT:
            raise ValueError(
                f"{dataset} is not an {FORMAT} dataset (format {data.get('format')!r})"
            )
        data["report"] = LoadReport(**data["report"])
        return cls(**data)
