"""``hskit report``: a capture's static HTML report, one self-contained file.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["report", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click

import hskit
from hskit.cli import backend_option, capture_argument, main, writing


@main.command()
@capture_argument
@backend_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report (one HTML file that opens offline).",
)
@click.option(
    "--max-drawn",
    type=click.IntRange(min=0),
    default=None,
    help="Problem connections drawn with a ladder and a state timeline  [default: 20].",
)
def report(file: str, backend: str, output: Path, max_drawn: int | None) -> None:
    """Write FILE's HTML report: summary, problem connections with ladders, states over time."""
    # plotly and the views load only for this command, so the other commands start quickly.
    from hskit.report import MAX_DRAWN, problem_mask, write_report

    if max_drawn is None:
        max_drawn = MAX_DRAWN
    cap = hskit.load(file, backend=backend)  # type: ignore[arg-type]
    with writing(output):
        write_report(cap, output, max_drawn=max_drawn)
    problems = int(problem_mask(cap.connections).sum())
    click.echo(
        f"wrote {output}: {len(cap.connections)} connections, {problems} with problems "
        f"({min(problems, max_drawn)} drawn)"
    )
