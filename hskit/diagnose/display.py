"""Findings for people: each one as an HTML block, and a findings table that reads in Jupyter.

pandas' repr of the findings table cuts long evidence with "…" and shows the newlines
of ``next_checks`` as a literal ``\\n``; :func:`findings_table` wraps the table in an
object whose ``_repr_html_`` shows every finding whole: evidence and explanation
wrapped, the next checks as commands, one per line. The HTML report uses the same
:func:`finding_html` blocks.

>>> findings_table(cap.diagnose())  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from hskit.wording import counted

#: Severity badge colours (critical red, warning amber, info grey).
SEVERITY_COLORS: dict[str, str] = {"critical": "#CC0000", "warning": "#B26B00", "info": "#666666"}
FINDINGS_CSS = """
.hskit-finding { border-left: 4px solid #999; padding: 0.2em 0 0.4em 0.8em; margin: 0.8em 0; }
.hskit-finding h3 { margin: 0.2em 0; font-size: 1.05em; }
.hskit-finding .hskit-badge { color: white; border-radius: 3px; padding: 0 0.4em;
  font-size: 0.8em; margin-right: 0.4em; }
.hskit-finding pre { background: #f6f6f6; padding: 0.4em 0.6em; margin: 0.3em 0;
  white-space: pre-wrap; font-size: 0.85em; }
.hskit-finding p { margin: 0.3em 0; max-width: 75em; }
"""


def finding_html(finding: pd.Series, extra: str = "") -> str:
    """One finding as a ``<section class="hskit-finding">``: severity, kind, endpoint, when,
    evidence, explanation and the next checks; ``extra`` (HTML) goes at its end.

    >>> row = pd.Series({"kind": "refused", "severity": "warning", "endpoint": "10.0.0.2:80",
    ...     "streams": [3], "count": 1, "first_time": 0.5, "last_time": 0.6,
    ...     "evidence": "1 attempt", "explanation": "RST", "next_checks": "nc -vz a 80\\nss"})
    >>> "<pre>nc -vz a 80\\nss</pre>" in finding_html(row)
    True
    """
    severity = str(finding["severity"])
    color = SEVERITY_COLORS.get(severity, "#666666")
    streams = list(finding["streams"])
    shown = " ".join(str(stream) for stream in streams[:30])
    more = f" … ({len(streams)} in all)" if len(streams) > 30 else ""
    return (
        f"<section class='hskit-finding' data-kind='{_esc(finding['kind'])}' "
        f"data-severity='{_esc(severity)}' style='border-left-color: {color}'>"
        f"<h3><span class='hskit-badge' style='background: {color}'>{_esc(severity.upper())}"
        f"</span>{_esc(finding['kind'])} at {_esc(finding['endpoint'])}</h3>"
        f"<p>{counted(int(finding['count']), 'connection')}, "
        f"{float(finding['first_time']):.3f} s to {float(finding['last_time']):.3f} s; "
        f"streams {_esc(shown)}{_esc(more)}</p>"
        f"<p><b>Evidence:</b> {_esc(finding['evidence'])}</p>"
        f"<p><b>What it means:</b> {_esc(finding['explanation'])}</p>"
        f"<p><b>Next checks:</b></p><pre>{_esc(finding['next_checks'])}</pre>"
        f"{extra}</section>"
    )


@dataclass(frozen=True)
class FindingsTable:
    """A findings DataFrame that displays whole in Jupyter (``findings`` holds the frame)."""

    findings: pd.DataFrame

    def _repr_html_(self) -> str:
        if self.findings.empty:
            return "<p><i>no findings</i></p>"
        blocks = "".join(finding_html(row) for _, row in self.findings.iterrows())
        return f"<style>{FINDINGS_CSS}</style><div class='hskit-findings'>{blocks}</div>"

    def __repr__(self) -> str:
        if self.findings.empty:
            return "no findings"
        return "\n\n".join(
            f"{str(row['severity']).upper()} {row['kind']} at {row['endpoint']}\n"
            f"  evidence: {row['evidence']}\n  meaning: {row['explanation']}\n"
            "  next checks:\n    " + str(row["next_checks"]).replace("\n", "\n    ")
            for _, row in self.findings.iterrows()
        )


def findings_table(findings: pd.DataFrame) -> FindingsTable:
    """``findings`` (``diagnose()``'s table) shown whole: nothing cut, checks one per line.

    >>> findings_table(cap.diagnose())  # doctest: +SKIP
    """
    return FindingsTable(findings)


def _esc(value: object) -> str:
    return html.escape("-" if value is None else str(value))
