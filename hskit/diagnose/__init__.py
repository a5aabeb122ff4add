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

from hskit.analysis import analyze
from hskit.diagnose.display import findings_table
from hskit.diagnose.evidence import Evidence, Steps, context_of, evidence_steps, finished
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
    return finished(
        diagnosis_steps(segments, connections, states, thresholds, analysis=analysis, **overrides)
    )


def diagnosis_steps(
    segments: pd.DataFrame,
    connections: pd.DataFrame,
    states: pd.DataFrame,
    thresholds: Thresholds | None = None,
    *,
    analysis: pd.DataFrame | None = None,
    **overrides: Any,
) -> Steps[pd.DataFrame]:
    """:func:`diagnose` one step at a time (the analysis, each table of the evidence,
    each finder): yields between steps and returns the findings, so a caller can run
    code between them (time each step, or let other work go first: Python runs one
    thread at a time).

    >>> from hskit.diagnose.evidence import finished
    >>> finished(diagnosis_steps(cap.segments, cap.connections, cap.states))  # doctest: +SKIP
    """
    settings = _settings(thresholds, overrides)
    if connections.empty:
        return empty_findings()
    if analysis is None:
        analysis = analyze(segments)
        yield
    evidence = yield from evidence_steps(segments, analysis)
    return (yield from finding_steps(evidence, connections, states, settings))


def finding_steps(
    evidence: Evidence, connections: pd.DataFrame, states: pd.DataFrame, thresholds: Thresholds
) -> Steps[pd.DataFrame]:
    """The findings of the segments' ``evidence`` and the tables, one finder a step
    (yields after each): the part of :func:`diagnosis_steps` after the evidence, which
    the live capture runs on evidence it keeps from file to file.

    >>> finished(finding_steps(evidence, connections, states, Thresholds()))  # doctest: +SKIP
    """
    context = context_of(evidence, connections, states)
    found = []
    for finder in FINDERS.values():
        found.append(finder(context, thresholds))
        yield
    return _combined(found)


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
    return finished(finding_steps(evidence, connections, states, settings))


def _settings(thresholds: Thresholds | None, overrides: dict[str, Any]) -> Thresholds:
    """``thresholds`` (default :class:`Thresholds`) with ``overrides``, each a known field."""
    known = {field.name for field in fields(Thresholds)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return replace(thresholds or Thresholds(), **overrides)


def _combined(found: list[pd.DataFrame]) -> pd.DataFrame:
    """Every finder's rows, most severe and earliest first."""
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
    "diagnosis_steps",
    "empty_findings",
    "finding_steps",
    "findings_table",
]
