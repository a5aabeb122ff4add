"""Zeek-compatible ``conn_state`` and ``history`` (Zeek's conn.log vocabulary).

One module per concern:

- :mod:`.fields`: ``conn_state`` and ``history`` of connections given as groups of rows
  (:func:`zeek_conn_fields`: each stream taken as one connection);
- :mod:`.connections`: Zeek's connection boundaries within a stream
  (:func:`zeek_connections`);
- :mod:`.state`: Zeek's TCP endpoint state machine as a table, and ``conn_state``;
- :mod:`.lifecycle`: what Zeek's TCP analyzer knows after each packet (endpoint
  states, closes, ``last_time``, initial sequence numbers);
- :mod:`.history`: the ``history`` letters;
- :mod:`.sizes`: ``orig_bytes``/``resp_bytes`` from sequence numbers;
- :mod:`.gaps`: content gaps (``missed_bytes``, ``G``);
- :mod:`.ports`: Zeek's ``likely_server_ports``.

The whole conn.log row, on this engine, is :func:`hskit.zeek.conn_log`.

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
