"""hskit: TCP packet captures as pandas DataFrames and Jupyter views of handshakes and teardowns.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> cap.connections[["handshake", "termination", "conn_state", "history"]]  # doctest: +SKIP
"""

from hskit import classify, errors, filters, flags, schema, timing, zeek
from hskit.capture import Capture, LoadReport
from hskit.loader import load

__all__ = [
    "Capture",
    "LoadReport",
    "classify",
    "errors",
    "filters",
    "flags",
    "load",
    "schema",
    "timing",
    "zeek",
]
__version__ = "0.1.0"
