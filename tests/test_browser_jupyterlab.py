"""End to end in a real browser: JupyterLab runs a notebook that shows the ladder widget.

A headless JupyterLab serves a notebook written here; Debian's Chromium (driven by
Playwright, offline, fresh profile) opens it, runs every cell from the Run menu, and
the test counts the arrows plotly drew in the page's SVG: one line piece and one
label marker per segment of the connection, as many as ``cap.segments`` holds for
that stream. Choosing another connection in the widget's picker must redraw the
ladder with that stream's count. The screenshot goes to
``artifacts/jupyterlab-ladder.png``. Without Chromium, Playwright or JupyterLab the
test skips on a user's machine and fails in CI.
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from browser.chromium import chromium_path, offline_chromium, require, require_playwright
from browser.jupyterlab import JupyterLab, pid_alive, running_jupyterlab
from conftest import REPO, SAMPLE_CAPTURES, ZEEK_TRACES

import hskit

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
    expected: dict[int, int],
    first: int,
    second: int,
    second_label: str,
) -> int:
    """Open and run the notebook, check both ladders, screenshot; return the kernel's pid."""
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
    expected = {
        stream: len(cap.segments[cap.segments["stream"] == stream]) for stream in (first, second)
    }
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
                    page, lab, notebook, expected, first, second, second_label
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


EXPLORER_SCREENSHOT = REPO / "artifacts" / "jupyterlab-explorer.png"
DISSECTION_SCREENSHOT = REPO / "artifacts" / "jupyterlab-explorer-dissection.png"
_TITLES_JS = """
() => [...document.querySelectorAll('.hskit-explorer .js-plotly-plot .gtitle')]
      .map(t => t.textContent)
"""


def test_explorer_filters_selects_and_dissects_in_jupyterlab(tmp_path: Path) -> None:
    """busy_server in the explorer at 1600x1000: a filter narrows the grid, a click on a
    grid row redraws both views, a click on an arrow shows its TCP-first dissection, the
    lanes show the endpoints' states; screenshots in artifacts/."""
    require(importlib.util.find_spec("jupyterlab") is not None, "JupyterLab is missing")
    require_playwright()
    chromium_path()
    capture = REPO / "sample_pcaps" / "busy_server.pcap.gz"
    cap = hskit.load(capture, progress=False)
    refused = cap.connections.loc[cap.connections["handshake"] == "refused", "stream"].tolist()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import hskit\ncap = hskit.load({str(capture)!r}, progress=False)\n"
            "e = cap.explore()\ndisplay(e)"
        )
    ]
    with running_jupyterlab(tmp_path / "lab") as lab:
        nbformat.write(notebook, lab.root_dir / "explorer.ipynb")
        with offline_chromium(tmp_path / "profile", width=1600, height=1000) as (context, _):
            page = context.new_page()
            try:
                page.goto(lab.url("lab/tree/explorer.ipynb"))
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=_TIMEOUT_MS)
                lab.wait_for_connected_idle_kernel()
                page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                page.wait_for_function(f"({_TITLES_JS})().length === 2", timeout=_TIMEOUT_MS)
                # filter: the handshake dropdown lists counts; pick refused
                handshake = page.locator(".hskit-explorer select").first
                options = handshake.evaluate("s => [...s.options].map(o => o.textContent)")
                options = [text.replace("\xa0", " ") for text in options]  # ipywidgets' nbsp
                index = next(i for i, text in enumerate(options) if text.startswith("refused ("))
                assert options[index] == f"refused ({len(refused)})"
                handshake.select_option(index=index)
                page.wait_for_function(
                    f"({_TITLES_JS})().some(t => t.startsWith('stream {refused[0]} ·'))",
                    timeout=_TIMEOUT_MS,
                )
                # a click on the grid's third row redraws the ladder and the timeline
                grid = page.locator(
                    ".hskit-explorer .p-DataGrid-viewport, .hskit-explorer .lm-DataGrid-viewport"
                ).first
                box = grid.bounding_box()
                assert box is not None
                page.mouse.click(box["x"] + 100, box["y"] + 20 + 22 * 2 + 11)
                page.wait_for_function(
                    f"(() => {{ const t = ({_TITLES_JS})(); "
                    f"return t[0].startsWith('stream {refused[2]} ·') "
                    f"&& t[1].startsWith('stream {refused[2]}:'); }})()",
                    timeout=_TIMEOUT_MS,
                )
                svg_text = page.locator(".hskit-explorer .js-plotly-plot").first.inner_text()
                lanes = page.evaluate(
                    "() => [...document.querySelectorAll('.hskit-explorer .textpoint text')]"
                    ".map(t => t.textContent)"
                )
                assert "SYN_SENT" in lanes, (lanes, svg_text)
                plots = page.locator(".hskit-explorer .js-plotly-plot")
                for index in range(2):
                    plot_box = plots.nth(index).bounding_box()
                    assert plot_box is not None and plot_box["y"] >= 0
                EXPLORER_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(EXPLORER_SCREENSHOT))
                # a click on the first arrow's label marker: its dissection, TCP first
                point = (
                    page.locator(".hskit-explorer .js-plotly-plot")
                    .first.locator(".scatterlayer .trace .points path.point")
                    .first
                )
                point.click(force=True)
                page.wait_for_selector(
                    ".hskit-explorer .hskit-dissection details[open][data-layer='tcp']",
                    timeout=_TIMEOUT_MS,
                )
                page.screenshot(path=str(DISSECTION_SCREENSHOT))
            except BaseException:
                FAILURE_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(FAILURE_SCREENSHOT))
                raise
