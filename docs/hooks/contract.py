"""mkdocs hook: write hskit's contract (schema, vocabularies, API, commands) into its page.

The page (``reference/contract.md``) holds the marker ``<!-- hskit-contract -->``; at
build time it is replaced by tables generated from :mod:`hskit.schema` (every table's
columns with dtype and meaning, every label vocabulary, the flag bits), from the public
names of the package and from the commands registered on :data:`hskit.cli.main`, so the
page cannot drift from the code.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from types import ModuleType

import pandas as pd

MARKER = "<!-- hskit-contract -->"
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _cell(text: str) -> str:
    """Text for one table cell: reST roles as code, pipes escaped, one line."""
    return _ROLE.sub(r"`\1`", " ".join(text.split())).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _summary(obj: object) -> str:
    """The first paragraph of ``obj``'s docstring."""
    return (inspect.getdoc(obj) or "").split("\n\n")[0]


def _call(name: str, function: object) -> str:
    """``name(parameters)``: a callable's parameter names with their defaults, no self."""
    if not callable(function):
        return name
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == "self":
            continue
        text = {
            inspect.Parameter.VAR_POSITIONAL: f"*{parameter.name}",
            inspect.Parameter.VAR_KEYWORD: f"**{parameter.name}",
        }.get(parameter.kind, parameter.name)
        if parameter.default is not inspect.Parameter.empty:
            text += f"={parameter.default!r}"
        parameters.append(text)
    return f"{name}({', '.join(parameters)})"


def _vocabulary_of(dtype: object) -> str | None:
    """The vocabulary whose labels are the categories of ``dtype``, if any."""
    from hskit import schema

    if not isinstance(dtype, pd.CategoricalDtype) or dtype.categories is None:
        return None
    categories = tuple(dtype.categories)
    return next((name for name, v in schema.VOCABULARIES.items() if v.labels == categories), None)


def dtype_text(dtype: object) -> str:
    """A column's dtype as the docs write it, with a link to its vocabulary."""
    vocabulary = _vocabulary_of(dtype)
    if vocabulary is not None:
        kind = "ordered category" if dtype.ordered else "category"  # type: ignore[attr-defined]
        return f"{kind}: [{vocabulary} labels](#vocabulary-{vocabulary})"
    return f"`{pd.api.types.pandas_dtype(dtype)}`"


def tables_section() -> list[str]:
    from hskit import schema

    lines = ["## Tables", ""]
    for name, table in schema.TABLES.items():
        lines += [f"### {name}", "", f"One row per {table.row}.", ""]
        rows = [(f"`{c}`", dtype_text(d), table.meanings[c]) for c, d in table.dtypes.items()]
        lines += _table(["column", "dtype", "meaning"], rows)
    return lines


def vocabularies_section() -> list[str]:
    from hskit import schema

    lines = ["## Vocabularies", ""]
    for column, vocabulary in schema.VOCABULARIES.items():
        lines += [f"### {column} {{#vocabulary-{column}}}", ""]
        rows = [(f"`{label}`", vocabulary.meanings[label]) for label in vocabulary.labels]
        lines += _table(["label", "meaning"], rows)
    lines += [
        "### history letters {#vocabulary-history}",
        "",
        "Upper case from the originator, lower case from the responder.",
        "",
    ]
    lines += _table(["letter", "event"], [(f"`{k}`", v) for k, v in schema.HISTORY_LETTERS.items()])
    return lines


def flags_section() -> list[str]:
    from hskit import schema

    rows = [
        (f"`0x{bit:02x}`", f"`{name}`", f"`{letter}`", schema.FLAG_MEANINGS[bit])
        for bit, letter, name in schema.FLAG_BITS
    ]
    return [
        "## Flag bits",
        "",
        "The `flags` column holds these bits; the constants are `hskit.schema.FIN` … `AE`, "
        "and `hskit.flags.label` writes them as tcpdump letters or Wireshark names.",
        "",
        *_table(["bit", "name (constant)", "tcpdump", "meaning"], rows),
        f"TIME_WAIT lasts `hskit.schema.DEFAULT_TIME_WAIT` = {schema.DEFAULT_TIME_WAIT:g} s "
        "unless `classify(..., time_wait=)` says otherwise.",
        "",
    ]


def _public(module: ModuleType) -> list[tuple[str, object]]:
    """A module's public names: its ``__all__``, or what it defines without a leading _."""
    names = getattr(module, "__all__", None) or [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]
    return [(name, getattr(module, name)) for name in names]


def _members(cls: type, instance: object | None = None) -> list[tuple[str, object]]:
    names = sorted(set(dir(instance if instance is not None else cls)))
    return [
        (name, getattr(cls, name, None))
        for name in names
        if not name.startswith("_") and name not in dir(object)
    ]


def api_section() -> list[str]:
    import hskit
    from hskit import (
        accessor,
        capture,
        diagnose,
        errors,
        filters,
        flags,
        samples,
        schema,
        timing,
        views,
        zeek,
    )

    lines = ["## Public API", ""]
    top = [(f"`hskit.{name}`", _summary(obj)) for name, obj in _public(hskit)]
    lines += ["### hskit", "", *_table(["name", "what it is"], top)]

    empty = capture.Capture(
        schema.empty_segments(),
        capture.LoadReport(path="", backend="native", frames=0, tcp_segments=0),
    )
    attributes = {"segments": "the segments table", "load_report": "the `LoadReport`"}
    members = [
        (f"`{_call('cap.' + name, obj)}`", attributes.get(name) or _summary(obj))
        for name, obj in _members(capture.Capture, empty)
    ]
    lines += ["### Capture", "", *_table(["member", "what it is"], members)]

    methods = [
        (f"`{_call('df.hs.' + name, obj)}`", ", ".join(obj.table_kinds), _summary(obj))
        for name, obj in _members(accessor.HsAccessor)
    ]
    lines += [
        "### The `DataFrame.hs` accessor",
        "",
        _summary(accessor),
        "",
        *_table(["method", "tables", "what it does"], methods),
    ]
    for module in (samples, flags, filters, timing, views, diagnose, errors, zeek):
        rows = [(f"`{module.__name__}.{name}`", _summary(obj)) for name, obj in _public(module)]
        lines += [f"### {module.__name__}", "", *_table(["name", "what it is"], rows)]
    return lines


def cli_section() -> list[str]:
    from hskit.cli import main

    rows = [
        (f"[`hskit {name}`](../cli.md#hskit-{name})", command.get_short_help_str(limit=300))
        for name, command in sorted(main.commands.items())
        if not command.hidden
    ]
    return ["## Command line", "", *_table(["command", "what it does"], rows)]


def contract() -> str:
    """The markdown that replaces the marker."""
    sections = [tables_section(), vocabularies_section(), flags_section()]
    sections += [api_section(), cli_section()]
    return "\n".join(line for section in sections for line in section)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, contract())
