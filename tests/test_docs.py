"""The documentation site builds in strict mode, and its pages say what they should.

One ``mkdocs build --strict`` into a temporary directory (module-scoped). The tutorial
notebooks are rendered without being executed here (``HSKIT_DOCS_EXECUTE=false``):
``test_notebooks.py`` already runs each of them, and executing them again would double
the time. Set ``HSKIT_TEST_DOCS_EXECUTE=1`` to build exactly as the published site is
built, with the notebooks executed and their figures checked.

The labels and states quoted on the concept pages are recomputed from the captures, so
a change in the classifier that makes an example wrong fails here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import REPO, SAMPLE_DIR

import hskit

DOCS = REPO / "docs"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXECUTE = os.environ.get("HSKIT_TEST_DOCS_EXECUTE") == "1"
PLUGINS = ("mkdocs", "material", "mkdocs_jupyter", "mkdocstrings", "mkdocstrings_handlers.python")


def _missing_plugins() -> list[str]:
    return [name for name in PLUGINS if importlib.util.find_spec(name.split(".")[0]) is None]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``mkdocs build --strict`` must succeed."""
    missing = _missing_plugins()
    if missing:
        message = f"docs tools not installed ({', '.join(missing)}): pip install -e '.[docs]'"
        if os.environ.get("CI"):
            pytest.fail("CI: " + message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["HSKIT_DOCS_EXECUTE"] = "true" if EXECUTE else "false"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_api_reference_documents_the_public_api(site: Path) -> None:
    loading = page(site, "api/loading")
    for anchor in ("hskit.load", "hskit.capture.Capture", "hskit.capture.LoadReport",
                   "hskit.flags.label", "hskit.schema", "hskit.errors"):  # fmt: skip
        assert f'id="{anchor}"' in loading, anchor
    assert 'id="hskit.classify.classify"' in page(site, "api/classify")
    zeek = page(site, "api/zeek")
    for anchor in ("hskit.zeek.conn_log.conn_log", "hskit.zeek.ascii.write_conn_log"):
        assert f'id="{anchor}"' in zeek, anchor
    views = page(site, "api/views")
    for anchor in ("hskit.views.ladder.ladder_figure", "hskit.views.widgets.explorer"):
        assert f'id="{anchor}"' in views, anchor
    troubleshooting = page(site, "api/troubleshooting")
    for anchor in ("hskit.diagnose", "hskit.timing", "hskit.filters", "hskit.export"):
        assert f'id="{anchor}"' in troubleshooting, anchor


def test_docstring_examples_render_as_code_not_quotes(site: Path) -> None:
    loading = page(site, "api/loading")
    assert "<blockquote>" not in loading
    assert ":class:" not in text(loading)
    assert "doctest:" not in text(loading)


def test_every_notebook_has_a_rendered_page(site: Path) -> None:
    assert len(NOTEBOOKS) == 13, [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        html = page(site, f"notebooks/{path.stem}")
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        assert title.lstrip("# ").replace("`", "") in text(html), path.name
        assert "jp-Cell" in html, path.name
        if EXECUTE:
            assert "jp-OutputArea-output" in html, f"{path.name}: no outputs"


@pytest.mark.skipif(not EXECUTE, reason="notebooks run only with HSKIT_TEST_DOCS_EXECUTE=1")
def test_executed_notebooks_show_their_figures(site: Path) -> None:
    html = page(site, "notebooks/01_three_way_handshake")
    assert "Plotly.newPlot" in html


def test_cli_page_has_every_command_help(site: Path) -> None:
    from hskit.cli import main

    cli = text(page(site, "cli"))
    assert "Usage: hskit [OPTIONS] COMMAND" in cli
    for name in main.commands:
        assert f"Usage: hskit {name} [OPTIONS]" in cli, name


def _section(html: str, anchor: str) -> str:
    """The HTML from the heading with id ``anchor`` to the next heading of any level."""
    start = html.index(f'id="{anchor}"')
    end = re.search(r"<h[1-6][ >]", html[start:])
    return html[start : start + end.start()] if end else html[start:]


def test_contract_page_lists_every_column_label_flag_name_and_command(site: Path) -> None:
    from hskit.accessor import HsAccessor
    from hskit.cli import main

    contract = page(site, "reference/contract")
    for name, table in hskit.schema.TABLES.items():
        section = _section(contract, name)
        for column, meaning in table.meanings.items():
            assert f"<code>{column}</code>" in section, (name, column)
            assert meaning.split("`")[0][:30] in unescape(text(section)), (name, column)
    for column, vocabulary in hskit.schema.VOCABULARIES.items():
        section = _section(contract, f"vocabulary-{column}")
        for label in vocabulary.labels:
            assert f"<code>{label}</code>" in section, (column, label)
    flags = text(_section(contract, "flag-bits"))
    assert all(name in flags for _, _, name in hskit.schema.FLAG_BITS)
    listed = text(contract)
    assert all(f"hskit.{name}" in listed for name in hskit.__all__)
    methods = [name for name in dir(HsAccessor) if not name.startswith("_")]
    assert all(f"df.hs.{name}(" in listed for name in methods)
    assert all(f"hskit {name}" in listed for name in main.commands)


def test_readme_links_to_the_contract_page_and_not_outside_the_repository() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/reference/contract.md" in readme
    assert "site/reference/contract/" in readme
    for target in re.findall(r"\]\(([^)#]+)", readme):
        if "://" not in target:
            assert (REPO / target).resolve().is_relative_to(REPO), target
            assert (REPO / target).exists() or target.startswith("site/"), target


def test_comparison_page_has_the_benchmark_tables(site: Path) -> None:
    comparison = text(page(site, "comparison"))
    for needle in ("hskit native", "pyshark FileCapture", "tcptrace -n", "2 cores",
                   "2026-11-24", "22 traces"):  # fmt: skip
        assert needle in comparison, needle


def test_concept_pages_exist(site: Path) -> None:
    for name in ("concepts/tables", "concepts/labels", "concepts/states", "concepts/zeek"):
        assert "<h1" in page(site, name), name


# --------------------------------------------------------------- the examples are real
def markdown_tables(path: Path) -> list[pd.DataFrame]:
    """Every pipe table of a markdown file, as strings with backticks removed."""
    tables, block = [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
        elif block:
            tables.append(pd.DataFrame(block[2:], columns=block[0]))
            block = []
    return tables


def shown(value: object) -> str:
    if value is pd.NA or (isinstance(value, float) and value != value):
        return "NA"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def test_label_table_matches_the_captures() -> None:
    (table,) = [
        t for t in markdown_tables(DOCS / "concepts" / "labels.md") if "capture" in t.columns
    ]
    assert len(table) >= 15
    columns = ["handshake", "termination", "closer", "reset_by", "conn_state", "history"]
    for row in table.itertuples(index=False):
        connections = hskit.load(SAMPLE_DIR / row.capture).connections
        actual = connections.set_index("stream").loc[int(row.stream)]
        for column in columns:
            assert shown(actual[column]) == getattr(row, column), (row.capture, column)


#: the states tables of states.md in page order: (capture, whole table or an excerpt).
STATE_TABLES = [
    ("fin_4way.pcap", True),
    ("fin_3way.pcap", False),
    ("simultaneous_close.pcap", False),
    ("rst_client.pcap", True),
    ("refused.pcap", True),
    ("no_answer.pcap", True),
]


def test_state_tables_match_the_captures() -> None:
    tables = [
        t for t in markdown_tables(DOCS / "concepts" / "states.md") if "cause_frame" in t.columns
    ]
    assert len(tables) == len(STATE_TABLES)
    for table, (capture, whole) in zip(tables, STATE_TABLES, strict=True):
        states = hskit.load(SAMPLE_DIR / capture).states
        computed = [[shown(v) for v in row] for row in states.itertuples(index=False)]
        shown_rows = table.values.tolist()
        if whole:
            assert shown_rows == computed, capture
        else:
            assert all(row in computed for row in shown_rows), capture


SEGMENT_COLUMNS = ["frame", "time", "sender", "flags", "rel_seq", "rel_ack", "payload_len"]
CAPTURE_NAME = re.compile(r"`(\w+\.pcap)`")


def segment_excerpts(path: Path) -> list[tuple[str, pd.DataFrame]]:
    """Each segments excerpt of a page, with the capture last named before it."""
    capture, excerpts = None, []
    for table_or_text in re.split(r"((?:^\|.*\n)+)", path.read_text(encoding="utf-8"), flags=re.M):
        if table_or_text.startswith("|"):
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in
                    table_or_text.strip().splitlines()]  # fmt: skip
            if rows[0] == SEGMENT_COLUMNS:
                excerpts.append((capture, pd.DataFrame(rows[2:], columns=rows[0])))
        else:
            capture = ([None, *CAPTURE_NAME.findall(table_or_text)])[-1] or capture
    return excerpts


@pytest.mark.parametrize("name", ["labels.md", "states.md"])
def test_segment_excerpts_match_the_captures(name: str) -> None:
    excerpts = segment_excerpts(DOCS / "concepts" / name)
    assert excerpts
    for capture, table in excerpts:
        segments = hskit.load(SAMPLE_DIR / capture).segments.set_index("frame")
        for row in table.itertuples(index=False):
            segment = segments.loc[int(row.frame)]
            computed = [
                row.frame,
                f"{segment['time']:.6f}",
                "client" if segment["from_client"] else "server",
                hskit.flags.label(int(segment["flags"])),
                str(segment["rel_seq"]),
                str(segment["rel_ack"]),
                str(segment["payload_len"]),
            ]
            assert list(row) == computed, (capture, row.frame)


def test_getting_started_accessor_summary_matches_the_capture() -> None:
    guide = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    shown_text = guide.split("`connections.hs.summary()` is:\n\n```text\n")[1].split("```")[0]
    connections = hskit.load(SAMPLE_DIR / "close_client_first.pcap").connections
    computed = connections.hs.summary().to_string()
    assert [line.rstrip() for line in computed.splitlines()] == shown_text.splitlines()


def test_home_page_example_matches_the_capture() -> None:
    tables = markdown_tables(DOCS / "index.md")
    cap = hskit.load(SAMPLE_DIR / "close_client_first.pcap")
    connection = tables[0].iloc[0]
    for column in tables[0].columns:
        assert shown(cap.connections.loc[0, column]) == connection[column], column
    states = cap.states[cap.states["endpoint"] == "client"]
    client = states[["state", "start", "end", "cause_frame"]]
    computed = [[shown(v) for v in row] for row in client.itertuples(index=False)]
    assert tables[1].values.tolist() == computed


# ------------------------------------------------------ the printable summary (issue 19)
SUMMARY = DOCS / "summary.md"


#: one row of a summary filter table: | form | `value` | (the value may hold "||").
SUMMARY_ROW = re.compile(r"^\| (form|BPF|display filter|pandas|hskit) \| `(.*)` \|$")


def summary_filter_tables() -> list[dict[str, str]]:
    """Each filter table of the summary page as {form: value}, the pattern under "form"."""
    tables: list[dict[str, str]] = []
    for line in SUMMARY.read_text(encoding="utf-8").splitlines():
        row = SUMMARY_ROW.match(line)
        if row and row[1] == "form":
            tables.append({})
        if row:
            tables[-1][row[1]] = row[2]
    return tables


def test_summary_filters_are_hskits_own_strings() -> None:
    from hskit import filters

    tables = summary_filter_tables()
    assert len(tables) >= 12
    for forms in tables:
        pattern = forms["form"]
        assert forms["BPF"] == filters.bpf(pattern), pattern
        assert forms["display filter"] == filters.display_filter(pattern), pattern
        assert forms["pandas"] == f'cap.segments[filters.mask(cap.segments, "{pattern}")]'
        assert forms["hskit"], pattern


def test_summary_pictures_exist_and_each_names_a_drawn_figure() -> None:
    sys.path.insert(0, str(DOCS))
    try:
        from summary_figures import FIGURES
    finally:
        sys.path.remove(str(DOCS))
    pictures = re.findall(r"\(img/summary/(\w+)\.png\)", SUMMARY.read_text(encoding="utf-8"))
    assert len(pictures) >= 12
    for name in pictures:
        assert name in FIGURES, name
        assert (DOCS / "img" / "summary" / f"{name}.png").stat().st_size > 5_000, name


def test_summary_page_is_built_with_its_pictures(site: Path) -> None:
    summary = page(site, "summary")
    for name in re.findall(r"img/summary/(\w+)\.png", SUMMARY.read_text(encoding="utf-8")):
        assert f"img/summary/{name}.png" in summary, name
        assert (site / "img" / "summary" / f"{name}.png").is_file(), name


def test_notebook_pages_get_the_wide_stylesheet(site: Path) -> None:
    css = (site / "stylesheets" / "hskit.css").read_text(encoding="utf-8")
    assert ":has(.jupyter-wrapper)" in css and "white-space: normal" in css
    assert "stylesheets/hskit.css" in page(site, "notebooks/05_flags_and_filters")


#: A4 landscape in PDF points (1/72 inch): 297 mm x 210 mm.
A4_LANDSCAPE = (841.9, 595.3)


def test_summary_page_prints_on_one_a4_landscape_page(site: Path, tmp_path: Path) -> None:
    """Chromium prints the built summary page (its print stylesheet) to exactly one page."""
    from browser.chromium import CHROMIUM_ARGS, chromium_path

    pdf = tmp_path / "summary.pdf"
    argv = [chromium_path(), *CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'profile'}"]
    argv += ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"]
    argv.append((site / "summary" / "index.html").as_uri())
    subprocess.run(argv, capture_output=True, timeout=120, check=True)
    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    assert len(pages) == 1, f"the summary prints on {len(pages)} pages"
    assert re.findall(rb"/Count\s+(\d+)", data) == [b"1"], "the page tree counts one page"
    (box,) = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert [round(float(side)) for side in box] == [round(side) for side in A4_LANDSCAPE]


# ------------------------------------------------------------ the cheatsheet map (issue 19)
CHEATSHEET_MAP = DOCS / "cheatsheet-map.md"
#: the cheatsheet's sections (issue 19) that the map must place in a notebook.
CHEATSHEET_SECTIONS = (
    "3-way handshake", "teardown: 4-way", "teardown: 3-way", "teardown: simultaneous close",
    "teardown: half-close", "states", "flags", "URG", "ECE, CWR", "window scaling", "TIME_WAIT",
    "port exhaustion", "keep-alive", "TCP Fast Open", "ECN", "SYN backlog, SYN cookies",
    "connection pooling", "tcpdump -w", "tcpdump -ttt", "tcp[tcpflags] & tcp-syn != 0",
    "tcp.stream eq 0", "netstat -ant", "ss -tan", "nc -vz", "telnet", "curl", "hping3",
    "browser, port 80", "browser, port 443", "no SYN-ACK", "SYN then RST", "stuck SYN_RECV",
    "what is lost",
)  # fmt: skip


def nearest_heading(cells: list[nbformat.NotebookNode], index: int) -> str:
    """The last heading of the closest markdown cell above ``index`` that has one."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines()
                        if line.startswith("#")]  # fmt: skip
            if headings:
                return headings[-1].replace("`", "")
    return ""


def cheatsheet_rows() -> pd.DataFrame:
    tables = [t for t in markdown_tables(CHEATSHEET_MAP) if "heading" in t.columns]
    return pd.concat(tables, ignore_index=True)


def test_cheatsheet_map_rows_name_a_code_cell_that_asserts_under_its_heading() -> None:
    rows = cheatsheet_rows()
    assert len(rows) >= 40
    for row in rows.itertuples(index=False):
        (target,) = re.findall(r"\]\((notebooks/[\w/]+\.ipynb)\)", row.notebook)
        cells = nbformat.read(DOCS / target, as_version=4).cells
        cell = cells[int(row.cell) - 1]
        where = f"{target} cell {row.cell} ({row[0]})"
        assert cell.cell_type == "code" and "assert" in cell.source, where
        assert nearest_heading(cells, int(row.cell) - 1) == row.heading.replace("`", ""), where


def test_cheatsheet_map_places_every_cheatsheet_section() -> None:
    sections = " | ".join(cheatsheet_rows()["cheatsheet section"]).lower()
    missing = [name for name in CHEATSHEET_SECTIONS if name.lower() not in sections]
    assert not missing, missing


@pytest.mark.skipif(not EXECUTE, reason="notebooks run only with HSKIT_TEST_DOCS_EXECUTE=1")
def test_screenshot_outputs_are_whole_on_the_built_site(site: Path, tmp_path: Path) -> None:
    """docs/screenshots/make.py's checks on this build: the filter table, the finding and the
    timeline have no value cut with "…", nothing wider than its box, nothing past 1280 px."""
    from browser.chromium import chromium_path, require_playwright

    chromium_path()
    require_playwright()
    sys.path.insert(0, str(DOCS / "screenshots"))
    try:
        import make  # docs/screenshots/make.py
    finally:
        sys.path.remove(str(DOCS / "screenshots"))
    assert make.shoot(site, list(make.SHOTS), tmp_path) == []
    shots = sorted(path.name for path in tmp_path.glob("*.png"))
    assert shots == sorted(f"{name}.png" for name in make.SHOTS)
