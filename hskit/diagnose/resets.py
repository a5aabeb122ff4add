"""The ``resets`` finding: connections aborted by RST once the server had answered.

Counted: connections that ended in ``reset`` or ``fin_then_reset``, and handshakes the
client reset after the SYN-ACK (``reset_in_handshake``); one finding per server and
per side that sent the RST.

>>> find_resets(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

from hskit.diagnose.table import (
    Context,
    Thresholds,
    empty_findings,
    finalize,
    num,
    per_endpoint,
)
from hskit.wording import counted_each

_CAUSES = {
    "client": "the client aborted (SO_LINGER 0 close, a crash, a timeout giving up, "
    "or it closed with unread data)",
    "server": "the server aborted (the application closed with unread data or with "
    "SO_LINGER 0, crashed or hit a limit), or a middlebox injected the RST",
}


def find_resets(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Per server and per resetting side: how many aborts, after a FIN or in the handshake."""
    conns = context.connections
    aborted = conns[
        conns["termination"].isin(["reset", "fin_then_reset"])
        | (conns["handshake"] == "reset_in_handshake")
    ]
    findings = []
    for side, cause in _CAUSES.items():
        rows = aborted[aborted["reset_by"] == side]
        table = per_endpoint(rows, "server")
        if table.empty:
            continue
        after_fin = (rows["termination"] == "fin_then_reset").groupby(rows["server"]).sum()
        in_handshake = (rows["handshake"] == "reset_in_handshake").groupby(rows["server"]).sum()
        evidence = (
            counted_each(table["count"], "connection") + " reset by the " + side + " ("
            + num(after_fin.reindex(table.index), "d") + " after a FIN, "
            + num(in_handshake.reindex(table.index), "d") + " during the handshake)"
        )  # fmt: skip
        checks = (
            "ss -tan '( sport = :" + table["port"] + " or dport = :" + table["port"] + " )'"
            + "\nnstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnTimeout"
            + "\n# and the " + side + " application's logs at the reset times"
        )  # fmt: skip
        findings.append(
            finalize(
                "resets",
                table,
                "warning",
                evidence,
                f"Connections were torn down by a RST instead of an orderly FIN exchange: "
                f"{cause}. Data in flight may have been lost.",
                checks,
            )
        )
    return pd.concat(findings, ignore_index=True) if findings else empty_findings()
