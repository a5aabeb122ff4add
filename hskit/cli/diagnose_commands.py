"""``hskit diagnose FILE...``: the findings of a capture, as text, CSV or JSON.

With ``--fail-on warning`` (or ``critical``) the command exits with status
:data:`FINDINGS_EXIT_STATUS` (3) when a finding at or above that severity exists, so a
script or a CI pipeline can stop on it; 1 stays "hskit could not do it" (bad input),
2 a usage error.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["diagnose", "--help"]).exit_code
0
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import click
import pandas as pd

from hskit.cli import backend_option, capture_argument, capture_source, load_capture, main
from hskit.cli.dask_options import dask_client, dask_options, on_dask
from hskit.diagnose import SEVERITIES, Thresholds, diagnose

#: Exit status when ``--fail-on`` finds a finding at or above its severity.
FINDINGS_EXIT_STATUS = 3
_THRESHOLD_TYPES = {field.name: type(field.default) for field in fields(Thresholds)}


def parse_threshold(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as a :class:`Thresholds` override; ranges as ``LOW-HIGH``.

    >>> parse_threshold("stall_time=5"), parse_threshold("ephemeral_ports=1024-65535")
    (('stall_time', 5.0), ('ephemeral_ports', (1024, 65535)))
    """
    name, _, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if name not in _THRESHOLD_TYPES or not value:
        raise click.BadParameter(
            f"expected NAME=VALUE with NAME one of {', '.join(_THRESHOLD_TYPES)}, not {text!r}"
        )
    kind = _THRESHOLD_TYPES[name]
    try:
        if kind is tuple:
            low, high = value.split("-")
            return name, (int(low), int(high))
        return name, kind(value)
    except ValueError:
        raise click.BadParameter(f"{name}: cannot read {value!r} as {kind.__name__}") from None


def format_text(findings: pd.DataFrame) -> str:
    """Findings as indented text blocks, one per finding.

    >>> from hskit.diagnose import empty_findings
    >>> format_text(empty_findings())
    'no findings'
    """
    if findings.empty:
        return "no findings"
    blocks = []
    for finding in findings.itertuples(index=False):
        streams = " ".join(str(stream) for stream in finding.streams[:20])
        more = f" … ({len(finding.streams)} in all)" if len(finding.streams) > 20 else ""
        checks = "\n".join(f"      {line}" for line in finding.next_checks.splitlines())
        blocks.append(
            f"{finding.severity.upper()}  {finding.kind}  {finding.endpoint}\n"
            f"  when      {finding.first_time:.3f} s to {finding.last_time:.3f} s"
            f" ({finding.count} affected)\n"
            f"  streams   {streams}{more}\n"
            f"  evidence  {finding.evidence}\n"
            f"  meaning   {finding.explanation}\n"
            f"  next checks\n{checks}"
        )
    return "\n\n".join(blocks)


@main.command("diagnose")
@capture_argument
@backend_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Readable text blocks, CSV (streams space-separated) or JSON records.",
)
@click.option(
    "-t",
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a threshold, e.g. -t stall_time=5 -t ephemeral_ports=1024-65535.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "critical"]),
    default=None,
    help=f"Exit with status {FINDINGS_EXIT_STATUS} when a finding of this severity or worse "
    "exists (for scripts and CI); the findings are printed first.",
)
@dask_options
def diagnose_command(
    files: tuple[str, ...],
    backend: str,
    output_format: str,
    thresholds: tuple[str, ...],
    fail_on: str | None,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """What went wrong in FILE... (several files, a folder or a glob: one capture set):
    unanswered or refused SYNs, SYN floods, slow handshakes, TIME_WAIT pressure, resets,
    zero windows and stalls, with the commands to check next.

    Exit status: 0 done, 1 error (bad input), 2 usage error, 3 a finding at or above
    --fail-on. With --scheduler or --workers the work runs on Dask (same findings)."""
    overrides = dict(parse_threshold(text) for text in thresholds)
    if on_dask(scheduler, workers):
        import hskit.dask as hd

        with dask_client(scheduler, workers):
            segments = hd.read_segments(capture_source(files), backend=backend)
            findings = hd.diagnose(segments, **overrides)
    else:
        cap = load_capture(files, backend)
        findings = diagnose(cap.segments, cap.connections, cap.states, **overrides)
    if output_format == "table":
        click.echo(format_text(findings))
    elif output_format == "csv":
        flat = findings.assign(streams=findings["streams"].map(lambda s: " ".join(map(str, s))))
        click.echo(flat.to_csv(index=False), nl=False)
    else:
        records = json.loads(findings.to_json(orient="records"))
        click.echo(json.dumps(records, indent=2))
    if fail_on is not None and at_or_above(findings, fail_on):
        raise SystemExit(FINDINGS_EXIT_STATUS)


def at_or_above(findings: pd.DataFrame, severity: str) -> bool:
    """Whether any finding is at least as severe as ``severity``.

    >>> rows = pd.DataFrame({"severity": pd.Categorical(["warning"], SEVERITIES, ordered=True)})
    >>> at_or_above(rows, "warning"), at_or_above(rows, "critical")
    (True, False)
    """
    rank = {name: position for position, name in enumerate(SEVERITIES)}
    found = findings["severity"].astype(str).map(rank)
    return bool((found >= rank[severity]).any())
