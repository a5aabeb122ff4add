"""Griffe extension: make hskit's reST-flavoured docstrings read well as markdown.

hskit's docstrings are written for ``help()`` and doctest: ``>>>`` examples in the
body, Sphinx roles (``:func:`load```), reST simple tables. Rendered as markdown, a
``>>>`` line becomes a nested block quote and a role shows its markup. This extension
rewrites each docstring's text before mkdocstrings renders it:

- a run of ``>>>``/``...`` lines with their output lines becomes a ``pycon`` fence;
- ``:role:`~a.b.c``` becomes ```c``` (``:role:`a.b``` becomes ```a.b```);
- a reST simple table (rows of ``====`` borders) becomes a ``text`` fence;
- doctest directives (``# doctest: +SKIP``) are dropped;
- the reST escape ``\\ `` (as in ````Widget``\\ s``) is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|mod|data|attr|meth|obj|exc|const|py:\w+):`(~?)([^`]+)`")
BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")
DOCTEST_FLAG = re.compile(r"\s*# doctest: [+-]\w+(?:, *[+-]\w+)*")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _fence_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        if BORDER.match(line):
            indent = line[: len(line) - len(stripped)]
            block = []
            borders = 0
            while i < len(lines) and (lines[i].strip() or borders < 3):
                if BORDER.match(lines[i]):
                    borders += 1
                block.append(lines[i])
                i += 1
                if borders == 3:
                    break
            out += [f"{indent}```text", *block, f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def rewrite(text: str) -> str:
    """The markdown form of one docstring."""
    text = ROLE.sub(_role, text)
    text = text.replace("\\ ", "")
    text = DOCTEST_FLAG.sub("", text)
    return _fence_blocks(text)


class RestDocstrings(griffe.Extension):
    """Rewrite every docstring once, when its object is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and not getattr(obj.docstring, "_hskit_rewritten", False):
            obj.docstring.value = rewrite(obj.docstring.value)
            obj.docstring._hskit_rewritten = True
