"""``hskit report``: a capture's static HTML report, one self-contained file.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["report", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click

from hskit.cli import (
    backend_option,
    capture_argument,
    folder_takes_a_file,
    load_capture,
    main,
    writing,
)
from hskit.wording import counted


@main.command()
@capture_argument
@backend_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=folder_takes_a_file,
    help="Where to write the report (one HTML file that opens offline).",
)
@click.option(
    "--max-drawn",
    type=click.IntRange(min=0),
    default=None,
    help="Ladders drawn per finding (its most telling connections)  [default: 2].",
)
def report(files: tuple[str, ...], backend: str, output: Path, max_drawn: int | None) -> None:
    """Write the HTML report of FILE... (a capture, or a capture set): the findings first
    (each with its most telling ladders), then the summary, states over time and every
    problem connection."""
    # plotly and the views load only for this command, so the other commands start quickly.
    from hskit.report import MAX_DRAWN, problem_mask, write_report

    if max_drawn is None:
        max_drawn = MAX_DRAWN
    cap = load_capture(files, backend)
    findings = cap.diagnose()
    with writing(output):
        write_report(cap, output, max_drawn=max_drawn, findings=findings)
    problems = int(problem_mask(cap.connections).sum())
    click.echo(
        f"wrote {output}: {counted(len(cap.connections), 'connection')}, {problems} with "
        f"problems; {counted(len(findings), 'finding')}"
    )
