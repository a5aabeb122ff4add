"""Zeek's conn.log without Zeek: ``conn_log`` builds its rows from a segments table,
:mod:`hskit.zeek.ascii` writes them in Zeek's TSV or JSON format.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> hskit.zeek.conn_log(cap.segments, ignore_checksums=True)["history"].tolist()  # doctest: +SKIP
['ShADadFf']
"""

from hskit.zeek.conn_log import conn_log

__all__ = ["conn_log"]
