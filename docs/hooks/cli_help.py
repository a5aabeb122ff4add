"""mkdocs hook: write every ``hskit`` command's ``--help`` text into the CLI page.

The page (``cli.md``) holds the marker ``<!-- hskit-cli-help -->``; at build time it is
replaced by one section per command registered on :data:`hskit.cli.main`, each with the
text ``hskit COMMAND --help`` prints, so the reference cannot drift from the code.
"""

from __future__ import annotations

import click
from click.testing import CliRunner

MARKER = "<!-- hskit-cli-help -->"


def _help(args: list[str]) -> str:
    from hskit.cli import main

    result = CliRunner().invoke(main, [*args, "--help"], prog_name="hskit", terminal_width=88)
    if result.exit_code != 0:
        raise click.ClickException(f"hskit {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip()


def cli_reference() -> str:
    """The markdown that replaces the marker: the group's help, then each command's."""
    from hskit.cli import main

    parts = ["## hskit", "", "```text", _help([]), "```", ""]
    for name in sorted(main.commands):
        command = main.commands[name]
        if command.hidden:
            continue
        parts += [f"## hskit {name}", "", "```text", _help([name]), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
