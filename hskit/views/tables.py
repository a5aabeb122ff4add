"""Tables that display whole: every value uncut, long strings wrapped to the page.

pandas' notebook repr cuts strings longer than ``display.max_colwidth`` (50 characters)
with "…", and a wide table runs off a narrow page. :func:`wrapped` returns an object
whose ``_repr_html_`` is the table's own ``to_html`` (which never cuts a value) inside
a style that wraps long values, keeps newlines and shows code columns in monospace;
its plain ``repr`` is the table's ``to_string`` without any width limit.

>>> import pandas as pd
>>> table = wrapped(pd.DataFrame({"bpf": ["tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"]}))
>>> "…" in table._repr_html_()
False
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

#: wraps long values at spaces (a word breaks only when longer than its column), left aligned
#: (JupyterLab right-aligns table cells), rather than widening the table past the page.
WRAPPED_CSS = """
.hskit-wrapped table { table-layout: auto; border-collapse: collapse; max-width: 100%; }
.hskit-wrapped td, .hskit-wrapped th { white-space: pre-wrap; overflow-wrap: break-word;
  text-align: left !important; vertical-align: top; padding: 0.25em 0.6em; }
"""


@dataclass(frozen=True)
class WrappedTable:
    """``table`` shown whole in Jupyter; the columns named in ``code`` in monospace."""

    table: pd.DataFrame
    code: tuple[str, ...] = field(default=())
    index: bool = False

    def _repr_html_(self) -> str:
        scope = f"hskit-wrapped-{uuid.uuid4().hex[:8]}"  # several tables on one page
        first = int(self.index) + 1  # nth-child counts the index cell when shown
        code_css = "".join(
            f".{scope} td:nth-child({first + position}) {{ font-family: monospace; }}"
            for position, column in enumerate(self.table.columns)
            if column in self.code
        )
        html = self.table.to_html(index=self.index, border=0, escape=True)
        return (
            f"<style>{WRAPPED_CSS}{code_css}</style><div class='hskit-wrapped {scope}'>{html}</div>"
        )

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", None):
            return self.table.to_string(index=self.index)


def wrapped(table: pd.DataFrame, code: Sequence[str] = (), *, index: bool = False) -> WrappedTable:
    """``table`` displayed whole: values uncut and wrapped; ``code`` columns in monospace.

    >>> wrapped(filter_table, code=["tcpdump BPF", "Wireshark display filter"])  # doctest: +SKIP
    """
    missing = [name for name in code if name not in table.columns]
    if missing:
        raise ValueError(f"code columns {missing} are not in the table {list(table.columns)}")
    return WrappedTable(table, tuple(code), index)
