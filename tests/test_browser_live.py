"""End to end in a real browser: ``live.view()`` in JupyterLab follows traffic as it comes.

A notebook written here starts ``hskit.live`` on loopback (its own two ports only),
shows ``live.view()``, and starts a thread in the kernel that makes complete
connections to a listener and refused ones to a closed port, a round every half
second from when the view shows. Chromium (Playwright, offline) runs it and reads
what plotly holds in the page: the status line counts up through several values
while the rounds go on, and in the end the states bars, the new-connections bars
and the findings agree with the script, and choosing a connection in the latest
list draws its ladder. When JupyterLab stops, the kernel's capture program is gone
with it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from browser.chromium import chromium_path, offline_chromium, require, require_playwright
from browser.jupyterlab import JupyterLab, free_port, pid_alive, running_jupyterlab
from conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOT = REPO / "artifacts" / "jupyterlab-live.png"
FAILURE_SCREENSHOT = REPO / "artifacts" / "jupyterlab-live-failure.png"
ROUNDS = 8
#: seconds between rounds: the view sees the connections arrive over several ring files.
PAUSE = 0.5
_TIMEOUT_MS = 90_000

#: Every plotly figure in the outputs: its title and the sum of each trace's y values.
_FIGURES_JS = """
() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot')).map(gd => ({
  title: (gd.layout && gd.layout.title && gd.layout.title.text) || '',
  traces: (gd.data || []).map(t => ({name: t.name || '',
    total: (t.y || []).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0)})),
}))
"""


def _write_notebook(folder: Path, listen: int, closed: int) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import os, socket, threading, time\nimport hskit\n"
            f"live = hskit.live('lo', bpf='tcp port {listen} or tcp port {closed}')\n"
            "print('kernel pid', os.getpid(), 'capture pid', live.recorder.process.pid)\n"
            "view = live.view(refresh=0.3)\ndisplay(view)"
        ),
        nbformat.v4.new_code_cell(
            "server = socket.socket()\n"
            "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"server.bind(('127.0.0.1', {listen})); server.listen()\n"
            "def rounds():\n"
            "    deadline = time.monotonic() + 60  # the test says go once the view shows\n"
            "    while not os.path.exists('go') and time.monotonic() < deadline:\n"
            "        time.sleep(0.1)\n"
            f"    for _ in range({ROUNDS}):\n"
            f"        client = socket.create_connection(('127.0.0.1', {listen}))\n"
            "        accepted, _ = server.accept(); client.close(); accepted.close()\n"
            "        try:\n"
            f"            socket.create_connection(('127.0.0.1', {closed}))\n"
            "        except ConnectionRefusedError:\n"
            "            pass\n"
            f"        time.sleep({PAUSE})\n"
            "    print('rounds done')\n"
            "threading.Thread(target=rounds).start()"
        ),
    ]
    nbformat.write(notebook, folder / "live.ipynb")
    return "live.ipynb"


def _outputs_text(page: Page) -> str:
    return "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())


def _status_counts(page: Page, seconds: float) -> list[int]:
    """The connection counts the status line showed, sampled for up to ``seconds``,
    until it shows every connection of the script."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(r"ring files?, (\d+) connections?", _outputs_text(page))
        if found and (not seen or seen[-1] != int(found.group(1))):
            seen.append(int(found.group(1)))
        if seen and seen[-1] == 2 * ROUNDS:
            break
        time.sleep(0.1)
    return seen


def _figure(page: Page, title: str) -> dict[str, Any]:
    figures = [f for f in page.evaluate(_FIGURES_JS) if f["title"].startswith(title)]
    assert len(figures) == 1, page.evaluate(_FIGURES_JS)
    return {trace["name"]: trace["total"] for trace in figures[0]["traces"]}


def _check_view(page: Page, lab: JupyterLab, notebook: str) -> tuple[int, int]:
    page.goto(lab.url(f"lab/tree/{notebook}"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=_TIMEOUT_MS)
    lab.wait_for_connected_idle_kernel()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_selector(".jp-OutputArea .js-plotly-plot", timeout=_TIMEOUT_MS)
    (lab.root_dir / "go").touch()

    counts = _status_counts(page, seconds=60)
    assert counts and counts[-1] == 2 * ROUNDS, f"status counts {counts}: {_outputs_text(page)}"
    assert len(counts) >= 3, f"the view moved only through {counts}"
    assert counts == sorted(counts)

    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .hskit-live-finding').length > 0",
        timeout=_TIMEOUT_MS,
    )
    states = _figure(page, "connections by state now")
    assert sum(states.values()) == 2 * 2 * ROUNDS  # a client and a server per connection
    new = _figure(page, "new connections per second")
    assert new == {"complete": ROUNDS, "refused": ROUNDS}
    assert "refused" in page.locator(".hskit-live-finding").first.inner_text()

    page.locator(".jp-OutputArea select").first.select_option(index=0)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot'))"
        ".some(gd => ((gd.layout.title || {}).text || '').startsWith('stream '))",
        timeout=_TIMEOUT_MS,
    )
    outputs = _outputs_text(page)
    assert "Traceback" not in outputs and "Error displaying widget" not in outputs
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    pids = re.search(r"kernel pid (\d+) capture pid (\d+)", outputs)
    assert pids is not None, outputs
    return int(pids.group(1)), int(pids.group(2))


def test_live_view_follows_connections_as_they_come(tmp_path: Path) -> None:
    require(
        importlib.util.find_spec("jupyterlab") is not None,
        "JupyterLab is missing (pip install 'hskit[jupyter]')",
    )
    require_playwright()
    chromium_path()
    require(
        os.geteuid() == 0 and shutil.which("dumpcap") is not None,
        "the kernel captures on loopback: it needs root (or the capture privilege) and dumpcap",
    )
    listen, closed = free_port(), free_port()
    with running_jupyterlab(tmp_path / "lab") as lab:
        notebook = _write_notebook(lab.root_dir, listen, closed)
        with offline_chromium(tmp_path / "chromium-profile", height=1400) as (context, blocked):
            page = context.new_page()
            try:
                kernel, capture = _check_view(page, lab, notebook)
            except BaseException:
                FAILURE_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(FAILURE_SCREENSHOT), full_page=True)
                raise
            assert blocked == [], f"the page tried to reach the network: {blocked}"
    deadline = time.monotonic() + 30
    while (pid_alive(kernel) or pid_alive(capture)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(capture), f"the capture program (pid {capture}) outlived the kernel"
    assert not pid_alive(kernel)
