"""hskit.views.wrapped shows a table whole: no value cut, newlines kept, code in monospace."""

from __future__ import annotations

import pandas as pd
import pytest

from hskit import filters
from hskit.views import wrapped


def filter_table() -> pd.DataFrame:
    return pd.DataFrame(
        [(name, filters.bpf(name), filters.display_filter(name)) for name in filters.PATTERNS],
        columns=["pattern", "bpf", "display filter"],
    )


def test_every_filter_string_is_shown_whole() -> None:
    table = filter_table()
    html = wrapped(table, code=["bpf", "display filter"])._repr_html_()
    assert "…" not in html
    for value in table["bpf"]:
        assert value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;") in html


def test_plain_repr_is_not_cut_either() -> None:
    table = filter_table()
    text = repr(wrapped(table))
    assert "…" not in text and "..." not in text
    assert all(value in text for value in table["display filter"])


def test_code_columns_are_monospace_and_index_hidden() -> None:
    html = wrapped(filter_table(), code=["bpf"])._repr_html_()
    assert "td:nth-child(2) { font-family: monospace; }" in html
    assert "<th></th>" not in html


def test_unknown_code_column_is_named() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        wrapped(filter_table(), code=["nope"])
