"""``diagnose``: what went wrong in a capture, as a findings table.

One row per problem and endpoint, most severe first. The kinds (``FINDING_KINDS``):
``no_answer``, ``refused``, ``syn_flood``, ``slow_handshake``, ``time_wait_pressure``,
``resets``, ``zero_window``, ``stalled``, ``loss``, ``retransmissions``; each module of
this package finds one family of them, and :class:`Thresholds` documents every knob.
The finders read the connections and states tables and, of the segments, only their
evidence reduced per stream (:mod:`hskit.diagnose.evidence`), which a cluster computes
partition by partition (:func:`diagnose_evidence`, :func:`hskit.dask.diagnose`).

>>> from hskit.diagnose import diagnose
>>> findings = diagnose(cap.segments, cap.connections, cap.states)  # doctest: +SKIP
>>> findings[["kind", "severity", "endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

import pandas as pd

from hskit.diagnose.display import findings_table
from hskit.diagnose.evidence import Evidence, build_context, context_of
from hskit.diagnose.flood import find_syn_flood
from hskit.diagnose.handshake import find_no_answer, find_refused, find_slow_handshake
from hskit.diagnose.loss import find_loss, find_retransmissions
from hskit.diagnose.resets import find_resets
from hskit.diagnose.table import Context, Thresholds, empty_findings
from hskit.diagnose.time_wait import find_time_wait_pressure
from hskit.diagnose.window import find_stalled, find_zero_window
from hskit.schema import FINDING_COLUMNS, FINDING_DTYPES, FINDING_KINDS, SEVERITIES

Finder = Callable[[Context, Thresholds], pd.DataFrame]

#: one function per finding kind, in ``FINDING_KINDS`` order.
FINDERS: dict[str, Finder] = {
    "no_answer": find_no_answer,
    "refused": find_refused,
    "syn_flood": find_syn_flood,
    "slow_handshake": find_slow_handshake,
    "time_wait_pressure": find_time_wait_pressure,
    "resets": find_resets,
    "zero_window": find_zero_window,
    "stalled": find_stalled,
    "loss": find_loss,
    "retransmissions": find_retransmissions,
}


def diagnose(
    segments: pd.DataFrame,
    connections: pd.DataFrame,
    states: pd.DataFrame,
    thresholds: Thresholds | None = None,
    *,
    analysis: pd.DataFrame | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Findings of a capture: columns ``FINDING_COLUMNS``, most severe and earliest first.

    ``overrides`` are :class:`Thresholds` fields (``stall_time=5.0``,
    ``ephemeral_ports=(1024, 65535)`` …) applied on top of ``thresholds``;
    ``analysis`` is the segments' :func:`hskit.analyze` when it is at hand (a
    :class:`~hskit.Capture` passes its own), else computed here.

    >>> diagnose(segments, connections, states, flood_min_half_open=50)  # doctest: +SKIP
    """
    settings = _settings(thresholds, overrides)
    if connections.empty:
        return empty_findings()
    return _findings(build_context(segments, connections, states, analysis), settings)


def diagnose_evidence(
    evidence: Evidence,
    connections: pd.DataFrame,
    states: pd.DataFrame,
    thresholds: Thresholds | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """:func:`diagnose` from the segments' evidence (:mod:`hskit.diagnose.evidence`, e.g.
    concatenated from the partitions of a cluster) instead of the segments.

    >>> diagnose_evidence(evidence, connections, states, stall_time=5.0)  # doctest: +SKIP
    """
    settings = _settings(thresholds, overrides)
    if connections.empty:
        return empty_findings()
    return _findings(context_of(evidence, connections, states), settings)


def _settings(thresholds: Thresholds | None, overrides: dict[str, Any]) -> Thresholds:
    """``thresholds`` (default :class:`Thresholds`) with ``overrides``, each a known field."""
    known = {field.name for field in fields(Thresholds)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return replace(thresholds or Thresholds(), **overrides)


def _findings(context: Context, settings: Thresholds) -> pd.DataFrame:
    """Every finder's rows, most severe and earliest first."""
    found = [finder(context, settings) for finder in FINDERS.values()]
    found = [table for table in found if not table.empty]
    if not found:
        return empty_findings()
    findings = pd.concat(found, ignore_index=True).astype(FINDING_DTYPES)
    findings = findings.sort_values(
        ["severity", "first_time", "kind"], ascending=[False, True, True], kind="stable"
    )
    return findings.reset_index(drop=True)


__all__ = [
    "FINDERS",
    "FINDING_COLUMNS",
    "FINDING_DTYPES",
    "FINDING_KINDS",
    "SEVERITIES",
    "Evidence",
    "Thresholds",
    "diagnose",
    "diagnose_evidence",
    "empty_findings",
    "findings_table",
]
