"""End to end in a real browser: JupyterLab runs notebooks that show the ladder and the explorer.

A headless JupyterLab serves a notebook written here; Debian's Chromium (driven by
Playwright, offline, fresh profile) opens it, runs every cell from the Run menu, and
the tests read what plotly drew in the page's SVG. The ladder: one line piece and one
label marker per segment of the connection, as many as ``cap.segments`` holds for
that stream, redrawn for the connection picked, with each lane's states as
``cap.states`` has them. The explorer at 1600x1000: everything on screen at once, a
header's sort, a dropdown's filter, row clicks and arrow keys redrawing both views,
an arrow's dissection (see its test). Screenshots go to ``artifacts/`` (CI keeps them
for a person to look at). Without Chromium, Playwright or JupyterLab the tests skip
on a user's machine and fail in CI.
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pandas as pd
import pytest
from browser.chromium import chromium_path, offline_chromium, require, require_playwright
from browser.jupyterlab import JupyterLab, pid_alive, running_jupyterlab
from conftest import REPO, SAMPLE_CAPTURES, ZEEK_TRACES

import hskit
from hskit.schema import ENDPOINTS, HANDSHAKE_LABELS, RST

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOT = REPO / "artifacts" / "jupyterlab-ladder.png"
FAILURE_SCREENSHOT = REPO / "artifacts" / "jupyterlab-ladder-failure.png"
#: Streams short enough that every arrow is on screen without scrolling the figure.
MAX_ARROWS = 20
_TIMEOUT_MS = 90_000

#: What the ladder in the page shows, read from plotly's SVG: its title, the line pieces
#: of the ``arrows`` traces (one ``M`` per arrow in each ``path.js-line``) and the label
#: markers of the ``segments`` traces (one ``path.point`` per arrow). Traces are told
#: apart by their ``meta.role``.
_LADDER_JS = """
() => {
  const counts = {pieces: 0, markers: 0, plots: 0, title: ''};
  for (const plot of document.querySelectorAll('.jp-OutputArea .js-plotly-plot')) {
    counts.plots += 1;
    const title = plot.querySelector('.gtitle');
    counts.title = title ? title.textContent : '';
    for (const g of plot.querySelectorAll('.scatterlayer .trace')) {
      const trace = g.__data__ && g.__data__[0] && g.__data__[0].trace;
      const role = trace && trace.meta && trace.meta.role;
      if (role === 'arrows') {
        for (const line of g.querySelectorAll('path.js-line')) {
          counts.pieces += ((line.getAttribute('d') || '').match(/M/g) || []).length;
        }
      } else if (role === 'segments') {
        counts.markers += g.querySelectorAll('.points path.point').length;
      }
    }
  }
  return counts;
}
"""


def _capture_with_two_short_streams() -> tuple[Path, int, int]:
    """A capture whose stream 0 and another stream differ in length, both short."""
    for path in SAMPLE_CAPTURES + ZEEK_TRACES:
        counts = hskit.load(path, progress=False).segments["stream"].value_counts()
        first = int(counts.get(0, 0))
        if not 0 < first <= MAX_ARROWS:
            continue
        others = counts[(counts.index != 0) & (counts != first) & (counts <= MAX_ARROWS)]
        if len(others):
            return path, 0, int(others.index.min())
    pytest.fail("no capture in the repository has two short streams of different lengths")


def _write_notebook(folder: Path, capture: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import os\nimport hskit\n"
            f"cap = hskit.load({str(capture)!r}, progress=False)\n"
            'print("kernel pid", os.getpid())'
        ),
        nbformat.v4.new_code_cell("w = cap.ladder(0)\ndisplay(w)"),
    ]
    nbformat.write(notebook, folder / "ladder.ipynb")
    return "ladder.ipynb"


def _outputs_text(page: Page) -> str:
    return "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())


def _wait_for_ladder(page: Page, stream: int, arrows: int, what: str) -> dict[str, Any]:
    """Wait until the page shows the ladder of ``stream`` with ``arrows`` arrows.

    Fails with what the page shows and the cell outputs when it does not in time.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    condition = (
        f"(() => {{ const c = ({_LADDER_JS})(); "
        f"return c.pieces === {arrows} && c.markers === {arrows} "
        f"&& c.title.startsWith('stream {stream} ·'); }})()"
    )
    try:
        page.wait_for_function(condition, timeout=_TIMEOUT_MS)
    except PlaywrightTimeout:
        shown = page.evaluate(_LADDER_JS)
        pytest.fail(
            f"{what}: expected stream {stream} with {arrows} arrows, the page shows {shown} "
            f"(screenshot: {FAILURE_SCREENSHOT}); "
            f"cell outputs:\n{_outputs_text(page)}"
        )
    return page.evaluate(_LADDER_JS)


def _chromium_processes(profile: Path) -> list[int]:
    """Ids of live processes whose command line names ``profile`` (this test's Chromium)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(profile).encode() in command and pid_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _wait_gone(pids: list[int], seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if pid_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def _run_notebook_and_pick(
    page: Page,
    lab: JupyterLab,
    notebook: str,
    cap: hskit.Capture,
    first: int,
    second: int,
    second_label: str,
) -> int:
    """Open and run the notebook, check both ladders (arrows, and each lane's states after
    the redraw), screenshot; return the kernel's pid."""
    expected = {
        stream: len(cap.segments[cap.segments["stream"] == stream]) for stream in (first, second)
    }
    page.goto(lab.url(f"lab/tree/{notebook}"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=_TIMEOUT_MS)
    lab.wait_for_connected_idle_kernel()
    # Fold the file browser away: more room for the ladder in the screenshot.
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    shown = _wait_for_ladder(page, first, expected[first], "after Run All")
    assert shown["plots"] == 1
    kernel_pid = re.search(r"kernel pid (\d+)", _outputs_text(page))
    assert kernel_pid is not None, _outputs_text(page)

    select = page.locator(".jp-OutputArea select").filter(
        has=page.locator("option", has_text=second_label)
    )
    select.select_option(label=second_label)
    _wait_for_ladder(page, second, expected[second], f"after picking stream {second}")
    _check_lane_states(page, cap, second, ".jp-OutputArea .js-plotly-plot")

    outputs = _outputs_text(page)
    assert "Traceback" not in outputs and "Error displaying widget" not in outputs
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".js-plotly-plot").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT))
    return int(kernel_pid.group(1))


def test_ladder_widget_draws_every_arrow_and_redraws_for_the_picked_connection(
    tmp_path: Path,
) -> None:
    require(
        importlib.util.find_spec("jupyterlab") is not None,
        "JupyterLab is missing (pip install 'hskit[jupyter]')",
    )
    require_playwright()
    chromium_path()
    capture, first, second = _capture_with_two_short_streams()
    cap = hskit.load(capture, progress=False)
    picker = cap.ladder(first).picker
    picker.value = second
    second_label = picker.label
    profile = tmp_path / "chromium-profile"

    with running_jupyterlab(tmp_path / "lab") as lab:
        notebook = _write_notebook(lab.root_dir, capture)
        with offline_chromium(profile, height=1200) as (context, blocked):
            page = context.new_page()
            try:
                kernel_pid = _run_notebook_and_pick(
                    page, lab, notebook, cap, first, second, second_label
                )
            except BaseException:
                FAILURE_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(FAILURE_SCREENSHOT))
                raise
            assert blocked == [], f"the page tried to reach the network: {blocked}"
        chromium_left = _chromium_processes(profile)
        server = lab.process

    assert server.poll() is not None, "JupyterLab still runs after the test"
    assert chromium_left == [], f"Chromium processes left behind: {chromium_left}"
    assert _wait_gone([kernel_pid]) == [], f"the kernel (pid {kernel_pid}) outlived JupyterLab"


def test_a_missing_browser_tool_skips_on_a_user_machine_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium here"):
        require(False, "no chromium here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: no chromium here"):
        require(False, "no chromium here")
    require(True, "never shown")


# ---------------------------------------------------------------------------- explorer
EXPLORER_SCREENSHOTS = {
    step: REPO / "artifacts" / f"jupyterlab-explorer-{step}.png"
    for step in ("first", "sorted", "filtered", "keyboard", "dissection")
}
#: Errors ipydatagrid 1.4's streaming grid logs whatever the code using it does; both are
#: thrown after the grid has done its work:
#: - a cell click: its click signal handler looks up a primary key in rows the browser
#:   never holds (the selection still works), jupyter-widgets/ipydatagrid#561;
#: - a new row count (a header's filter does it too): the ``currentView`` setter of its
#:   ViewBasedJSONModel resets the grid, then reads ``dataset.length`` of a streaming
#:   data source whose columns are set but whose data stays empty.
_KNOWN_CONSOLE_ERRORS = (
    "getDatasetRowFromView",
    "Error setting state: Cannot read properties of undefined (reading 'length')",
)
#: ipydatagrid's header and row heights (px) in the explorer.
_HEADER_PX, _ROW_PX = 20, 22
#: Titles of the explorer's two plots (ladder, timeline), from plotly's SVG.
_TITLES_JS = """
() => [...document.querySelectorAll('.hskit-explorer .js-plotly-plot')]
      .map(plot => (plot.querySelector('.gtitle') || {}).textContent || '')
"""
#: Where the explorer's parts are on the page, and the box of the notebook's scroller.
_LAYOUT_JS = """
() => {
  const box = element => element.getBoundingClientRect().toJSON();
  const explorer = document.querySelector('.hskit-explorer');
  const [ladder, timeline] = explorer.querySelectorAll('.js-plotly-plot');
  const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
    || document.querySelector('.jp-NotebookPanel-notebook');
  return {
    viewport: {width: window.innerWidth, height: window.innerHeight},
    notebook: box(scroller),
    grid: box(explorer.querySelector('.lm-DataGrid')),
    ladderWidget: box(explorer.querySelector('.hskit-ladder')),
    ladder: box(ladder.querySelector('svg.main-svg')),
    timeline: box(timeline.querySelector('svg.main-svg')),
    laneNames: [...ladder.querySelectorAll('.xtick text')].map(box),
  };
}
"""
#: The state names each lane of the ladder shows, top to bottom, by endpoint; and the
#: shapes (lanes and their state bands) drawn in the page and in the figure.
_LANE_STATES_JS = """
(selector) => {
  const plot = document.querySelector(selector);
  const lanes = {shapes: [plot.querySelectorAll('.shapelayer path').length,
                          plot.layout.shapes.length]};
  for (const g of plot.querySelectorAll('.scatterlayer .trace')) {
    const trace = g.__data__ && g.__data__[0] && g.__data__[0].trace;
    if (trace && trace.meta && trace.meta.role === 'lane_states') {
      lanes[trace.meta.endpoint] = [...g.querySelectorAll('.textpoint text')]
        .map(text => text.textContent);
    }
  }
  return lanes;
}
"""
#: The page position of a point ``fraction`` of the way along arrow ``index`` of kind
#: ``kind`` in the ladder (from the figure's own coordinates), and the selected frame.
_ARROW_POINT_JS = """
([kind, index, fraction]) => {
  const plot = document.querySelector('.hskit-explorer .js-plotly-plot');
  const trace = plot._fullData.find(t => t.meta && t.meta.role === 'arrows'
                                         && t.meta.kind === kind);
  const [x0, x1] = [trace.x[3 * index], trace.x[3 * index + 1]];
  const [y0, y1] = [trace.y[3 * index], trace.y[3 * index + 1]];
  const layout = plot._fullLayout, frame = plot.getBoundingClientRect();
  return {
    x: frame.left + layout._size.l + layout.xaxis.l2p(x0 + fraction * (x1 - x0)),
    y: frame.top + layout._size.t + layout.yaxis.l2p(y0 + fraction * (y1 - y0)),
  };
}
"""
_SELECTED_FRAME_JS = """
() => {
  const plot = document.querySelector('.hskit-explorer .js-plotly-plot');
  const chosen = plot._fullData.find(t => t.meta && t.meta.role === 'selected');
  return chosen ? chosen.meta.frame : null;
}
"""


def _grid_rows(cap: hskit.Capture) -> pd.DataFrame:
    """The explorer's rows as the connections table gives them: stream, handshake, and
    the duration the grid shows (to the microsecond)."""
    connections = cap.connections
    return pd.DataFrame(
        {
            "stream": connections["stream"].to_numpy(),
            "handshake": connections["handshake"].astype(str).to_numpy(),
            "termination": connections["termination"].astype(str).to_numpy(),
            "duration_s": connections["duration"].round(6).to_numpy(),
        }
    )


def _wait_for_stream(page: Page, stream: int, what: str) -> None:
    """Wait until the ladder and the timeline both show ``stream``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    condition = (
        f"(() => {{ const t = ({_TITLES_JS})(); return t.length === 2 "
        f"&& t[0].startsWith('stream {stream} ·') && t[1].startsWith('stream {stream}:'); }})()"
    )
    try:
        page.wait_for_function(condition, timeout=_TIMEOUT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: expected stream {stream}, the views show {page.evaluate(_TITLES_JS)}")


def _check_layout(page: Page) -> dict[str, Any]:
    """The grid, the ladder and the timeline all on screen, the views side by side, and
    nothing of the ladder (lane names included) cut off at its widget's right edge."""
    layout = page.evaluate(_LAYOUT_JS)
    notebook = layout["notebook"]
    for part in ("grid", "ladder", "timeline"):
        box = layout[part]
        assert box["top"] >= notebook["top"] - 1, (part, box, notebook)
        assert box["bottom"] <= notebook["bottom"] + 1, (part, box, notebook)
        assert box["right"] <= notebook["right"] + 1, (part, box, notebook)
    assert layout["timeline"]["left"] >= layout["ladder"]["right"] - 1, layout
    assert layout["timeline"]["top"] < layout["ladder"]["bottom"], layout
    widget = layout["ladderWidget"]
    assert layout["ladder"]["right"] <= widget["right"] + 1, layout
    assert [box["right"] <= widget["right"] + 1 for box in layout["laneNames"]] == [True] * 2
    return layout


def _header_menu(page: Page, grid: dict[str, float], column: str, columns: list[str]) -> None:
    """Open the menu of ``column``'s header (its icon sits at the cell's right end)."""
    from hskit.views.explorer import COLUMN_WIDTHS

    right = sum(COLUMN_WIDTHS[name] for name in columns[: columns.index(column) + 1])
    page.mouse.click(grid["x"] + right - 9, grid["y"] + _HEADER_PX / 2)


def _click_row(page: Page, grid: dict[str, float], row: int) -> None:
    page.mouse.click(grid["x"] + 100, grid["y"] + _HEADER_PX + _ROW_PX * row + _ROW_PX / 2)


def _check_lane_states(
    page: Page, cap: hskit.Capture, stream: int, plot: str = ".hskit-explorer .js-plotly-plot"
) -> None:
    """Each lane names its endpoint's states in ``cap.states``' order (``A → B`` where
    two begin at the same place), and the page draws the figure's shapes, no more (none
    left over from the connection shown before)."""
    lanes = page.evaluate(_LANE_STATES_JS, plot)
    drawn, in_figure = lanes.pop("shapes")
    assert drawn == in_figure
    shown = {
        endpoint: [name for text in texts for name in text.strip().split(" → ") if name]
        for endpoint, texts in lanes.items()
    }
    states = cap.states.loc[cap.states["stream"] == stream]
    assert shown == {
        endpoint: states.loc[states["endpoint"] == endpoint, "state"].astype(str).tolist()
        for endpoint in ENDPOINTS
    }


def _click_arrow(page: Page, kind: str, index: int, fraction: float) -> None:
    point = page.evaluate(_ARROW_POINT_JS, [kind, index, fraction])
    page.mouse.move(point["x"], point["y"])
    page.mouse.click(point["x"], point["y"])


def _wait_for_dissection(page: Page, frame: int) -> str:
    """Wait for frame ``frame``'s dissection; return its TCP layer's text."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    panel = page.locator(".hskit-explorer .hskit-dissection")
    try:
        page.wait_for_function(
            "frame => [...document.querySelectorAll('.hskit-explorer b')]"
            ".some(b => b.textContent === `frame ${frame}`)"
            ' && document.querySelector(".hskit-explorer .hskit-dissection details[open]")',
            arg=frame,
            timeout=_TIMEOUT_MS,
        )
    except PlaywrightTimeout:
        pytest.fail(f"no dissection of frame {frame}: {_outputs_text(page)[-2000:]}")
    first = panel.locator(":scope > details").first
    assert first.get_attribute("data-layer") == "tcp"
    assert first.get_attribute("open") is not None
    return first.inner_text()


def test_explorer_sorts_filters_selects_navigates_and_dissects_in_jupyterlab(
    tmp_path: Path,
) -> None:
    """busy_server in the explorer at 1600x1000, as a user drives it: the grid and both
    views on screen at once; a header's menu sorts; a dropdown with counts filters; a
    click on a row and the arrow keys redraw both views; the lanes show the endpoints'
    states as ``cap.states`` has them; a click along an arrow highlights it and shows
    tshark's dissection of that frame, TCP first; the clear button restores everything.
    Screenshots of each step in artifacts/."""
    require(importlib.util.find_spec("jupyterlab") is not None, "JupyterLab is missing")
    require_playwright()
    chromium_path()
    from hskit.views.explorer import connection_grid_table

    capture = REPO / "sample_pcaps" / "busy_server.pcap.gz"
    cap = hskit.load(capture, progress=False)
    rows = _grid_rows(cap)
    columns = connection_grid_table(cap).columns.tolist()
    by_duration = rows.sort_values("duration_s", ascending=False, kind="stable")
    refused = by_duration.loc[by_duration["handshake"] == "refused"]
    assert by_duration["duration_s"].head(2).is_unique and refused["duration_s"].head(6).is_unique
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import hskit\ncap = hskit.load({str(capture)!r}, progress=False)"
        ),
        nbformat.v4.new_code_cell("cap.explore()"),
    ]
    errors: list[str] = []
    with running_jupyterlab(tmp_path / "lab") as lab:
        nbformat.write(notebook, lab.root_dir / "explorer.ipynb")
        with offline_chromium(tmp_path / "profile", width=1600, height=1000) as (context, blocked):
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            try:
                page.goto(lab.url("lab/tree/explorer.ipynb"))
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=_TIMEOUT_MS)
                lab.wait_for_connected_idle_kernel()
                page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                _wait_for_stream(page, int(rows["stream"].iloc[0]), "after Run All")
                _check_layout(page)
                _check_lane_states(page, cap, int(rows["stream"].iloc[0]))
                EXPLORER_SCREENSHOTS["first"].parent.mkdir(exist_ok=True)
                page.screenshot(path=str(EXPLORER_SCREENSHOTS["first"]))
                grid = page.locator(".hskit-explorer .lm-DataGrid-viewport").first.bounding_box()
                assert grid is not None

                # sort: the duration_s header's menu, descending
                _header_menu(page, grid, "duration_s", columns)
                page.get_by_text("Sort Descending", exact=True).click()
                _wait_for_stream(page, int(by_duration["stream"].iloc[0]), "after the sort")
                page.screenshot(path=str(EXPLORER_SCREENSHOTS["sorted"]))

                # filter: the handshake dropdown lists each value with its count
                handshake = page.locator(".hskit-explorer select").first
                options = handshake.evaluate("s => [...s.options].map(o => o.textContent)")
                options = [text.replace("\xa0", " ") for text in options]  # ipywidgets' nbsp
                counts = rows["handshake"].value_counts()
                assert options[0] == f"any ({len(rows):,})"
                assert sorted(options[1:]) == sorted(
                    f"{label} ({counts.get(label, 0):,})" for label in HANDSHAKE_LABELS
                )
                handshake.select_option(index=options.index(f"refused ({len(refused)})"))
                _wait_for_stream(page, int(refused["stream"].iloc[0]), "after the filter")
                count = page.locator(".hskit-explorer .widget-html-content b").first
                assert count.inner_text() == f"{len(refused)}"
                termination = page.locator(".hskit-explorer select").nth(1)
                narrowed = termination.evaluate("s => [...s.options].map(o => o.textContent)")
                kinds = refused["termination"].value_counts()
                assert {t.replace("\xa0", " ") for t in narrowed if not t.endswith("(0)")} == {
                    f"any ({len(refused)})",
                    *(f"{label} ({n})" for label, n in kinds.items()),
                }

                # a click on the third row, then the lanes' states
                _click_row(page, grid, 2)
                stream = int(refused["stream"].iloc[2])
                _wait_for_stream(page, stream, "after a click on the third row")
                _check_lane_states(page, cap, stream)
                _check_layout(page)
                page.screenshot(path=str(EXPLORER_SCREENSHOTS["filtered"]))

                # the arrow keys move the selection, and the views follow
                page.keyboard.press("ArrowDown")
                page.keyboard.press("ArrowDown")
                _wait_for_stream(page, int(refused["stream"].iloc[4]), "after ArrowDown twice")
                page.keyboard.press("ArrowUp")
                stream = int(refused["stream"].iloc[3])
                _wait_for_stream(page, stream, "after ArrowUp")
                page.screenshot(path=str(EXPLORER_SCREENSHOTS["keyboard"]))

                # a click a third of the way along the RST arrow: that frame, dissected
                own = cap.segments.loc[cap.segments["stream"] == stream]
                rst = own.loc[(own["flags"].to_numpy() & RST) != 0].iloc[0]
                _click_arrow(page, "RST", 0, 1 / 3)
                tcp = _wait_for_dissection(page, int(rst["frame"]))
                assert page.evaluate(_SELECTED_FRAME_JS) == int(rst["frame"])
                assert tcp.startswith("Transmission Control Protocol")
                assert f"Source Port: {int(rst['src_port'])}" in tcp
                flags_line = next(line for line in tcp.splitlines() if line.startswith("Flags:"))
                assert flags_line.startswith(f"Flags: 0x{int(rst['flags']):03x} ("), flags_line
                assert "RST" in flags_line
                page.screenshot(path=str(EXPLORER_SCREENSHOTS["dissection"]))

                # clear: every connection again, unsorted
                page.get_by_role("button", name="clear filters").click()
                _wait_for_stream(page, int(rows["stream"].iloc[0]), "after clear")
                assert count.inner_text() == f"{len(rows):,}"
            except BaseException:
                FAILURE_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(FAILURE_SCREENSHOT))
                raise
            assert blocked == [], f"the page tried to reach the network: {blocked}"
    unknown = [e for e in errors if not any(known in e for known in _KNOWN_CONSOLE_ERRORS)]
    assert unknown == [], f"errors in the browser console: {unknown}"
