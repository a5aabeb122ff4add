"""Zeek-compatible ``conn_state`` and ``history`` (Zeek's conn.log vocabulary).

One module per concern:

- :mod:`.fields`: ``conn_state`` and ``history`` of connections given as groups of rows
  (:func:`zeek_conn_fields`: each stream taken as one connection);
- :mod:`.connections`: Zeek's connection boundaries within a stream
  (:func:`zeek_connections`);
- :mod:`.state`: Zeek's TCP endpoint state machine as a table, and ``conn_state``;
- :mod:`.history`: the ``history`` letters;
- :mod:`.ports`: Zeek's ``likely_server_ports``.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> zeek_conn_fields(cap.segments)  # doctest: +SKIP
       conn_state history
stream
0             REJ      Sr
"""

from hskit.classify.zeek.connections import zeek_connections
from hskit.classify.zeek.fields import sorted_conn_fields, zeek_conn_fields

__all__ = ["sorted_conn_fields", "zeek_conn_fields", "zeek_connections"]
