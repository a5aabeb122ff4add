"""hskit: TCP packet captures as pandas DataFrames and Jupyter views of handshakes and teardowns.

>>> import hskit
>>> cap = hskit.load(hskit.samples.path("close_client_first"))  # doctest: +SKIP
>>> cap.connections[["handshake", "termination", "conn_state", "history"]]  # doctest: +SKIP
"""

# accessor registers the pandas accessor DataFrame.hs
from hskit import accessor, classify, errors, filters, flags, samples, schema, timing, zeek
from hskit.analysis import analyze
from hskit.capture import Capture, LoadReport
from hskit.dataset import convert, load_dataset
from hskit.live import LiveCapture, live
from hskit.loader import load

__all__ = [
    "Capture",
    "LiveCapture",
    "LoadReport",
    "accessor",
    "analyze",
    "classify",
    "convert",
    "errors",
    "filters",
    "flags",
    "live",
    "load",
    "load_dataset",
    "samples",
    "schema",
    "timing",
    "zeek",
]
__version__ = "0.1.0"
