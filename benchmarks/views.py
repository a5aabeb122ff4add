"""How fast the views build and render on a connection of 10k+ segments.

Makes (once, cached) a loopback capture of one long connection: a bounded ping-pong of
small messages between two local sockets, captured by tcpdump on ``lo``. Then times,
on its biggest stream: ``ladder_figure`` with the default range (first 200 segments),
handshake-only, time-scaled, and every segment; the figure's JSON; a ``PlotWidget``
redraw; the state figures; when chromium is installed, plotly.js's first render of
the default ladder in headless chromium; and, in a fresh Jupyter kernel each (imports
cold, as a user's first cell), the first ``cap.ladder(0)`` and ``cap.explore()`` on
``sample_pcaps/busy_server.pcap.gz`` (budgets: 1.5 s and 2 s).

Then the explorer on every connection of the load benchmark's capture (52,000, from
``benchmarks/make_capture.py``; skipped when it is not made): in JupyterLab in
Chromium at 1600x1000, as a user runs ``cap.explore()`` in a new notebook, the
kernel's build time (imports cold) and the first render: from the cell's start until
the grid's first rows have arrived in the page and the ladder and the timeline are
drawn.

    python benchmarks/views.py            # uses the cached capture, or makes it
    python benchmarks/views.py --force    # capture again
    python benchmarks/views.py --explorer-capture other.pcap
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

import hskit
from hskit.views import (
    connections_timeline_figure,
    ladder_figure,
    state_counts_figure,
    state_timeline_figure,
)
from hskit.views.plot_widget import PlotWidget

CACHE = Path.home() / ".cache" / "hskit" / "bench-long-connection.pcap"
#: The load benchmark's capture (benchmarks/make_capture.py): 52,000 connections.
EXPLORER_CAPTURE = Path.home() / ".cache" / "hskit" / "bench-loopback.pcap"
PORT = 47_391
EXCHANGES = 5_500  # request + response each: > 11k segments
MESSAGE = b"x" * 100
TIME_LIMIT = 120.0  # seconds for the traffic, whatever happens
REPEATS = 5


def _serve(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.settimeout(TIME_LIMIT)
        while data := connection.recv(len(MESSAGE)):
            connection.sendall(data)


def make_capture(path: Path) -> None:
    """Capture one loopback connection of ``EXCHANGES`` request/response pairs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tcpdump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "-B", "16384", "-w", str(path), f"tcp port {PORT}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()  # "listening on lo …": capture has started
        listener = socket.create_server(("127.0.0.1", PORT))
        server = threading.Thread(target=_serve, args=(listener,), daemon=True)
        server.start()
        deadline = time.monotonic() + TIME_LIMIT
        with socket.create_connection(("127.0.0.1", PORT)) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(TIME_LIMIT)
            for _ in range(EXCHANGES):
                if time.monotonic() > deadline:
                    break
                client.sendall(MESSAGE)
                received = 0
                while received < len(MESSAGE):
                    received += len(client.recv(len(MESSAGE)))
        server.join(TIME_LIMIT)
        listener.close()
        _wait_until_written(path)
    finally:
        tcpdump.send_signal(2)
        tcpdump.wait(30)
    print(f"captured {path}: " + "; ".join(tcpdump.stderr.read().strip().splitlines()))


def _wait_until_written(path: Path, quiet: float = 1.0, limit: float = 60.0) -> None:
    """Wait until tcpdump has written its backlog: the file stops growing for ``quiet`` s."""
    deadline = time.monotonic() + limit
    size, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = path.stat().st_size if path.exists() else 0
        if current != size:
            size, still_since = current, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
        time.sleep(0.1)


def timed(function: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def browser_render_ms(figure: go.Figure) -> float | None:
    """plotly.js ``newPlot`` until the next frame in headless chromium, or None without it."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    page = f"""<html><head><meta charset="utf-8"><script>{get_plotlyjs()}</script></head>
<body><div id="plot"></div><pre id="result">pending</pre><script>
const figure = {figure.to_json()};
const t0 = performance.now();
Plotly.newPlot("plot", figure.data, figure.layout).then(() => requestAnimationFrame(() => {{
  document.getElementById("result").textContent = "render_ms=" + (performance.now() - t0);
}}));
</script></body></html>"""
    with tempfile.TemporaryDirectory() as folder:
        html = Path(folder) / "ladder.html"
        html.write_text(page)
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             "--virtual-time-budget=20000", html.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        ).stdout  # fmt: skip
    found = re.search(r"render_ms=([\d.]+)", dom)
    return float(found.group(1)) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="capture again")
    parser.add_argument("capture", nargs="?", type=Path, help="use this capture instead")
    parser.add_argument(
        "--explorer-capture",
        type=Path,
        default=EXPLORER_CAPTURE,
        help="the capture of the explorer's measurement (default: make_capture.py's)",
    )
    args = parser.parse_args()
    path = args.capture or CACHE
    if args.capture is None and (args.force or not CACHE.exists()):
        make_capture(CACHE)

    load_time, cap = timed(lambda: hskit.load(path), repeats=1)
    classify_time, _ = timed(lambda: cap.connections, repeats=1)
    sizes = cap.segments["stream"].value_counts()
    stream = int(sizes.index[0])
    print(
        f"{path}: {len(cap.segments)} segments, load {load_time:.3f} s, "
        f"classify {classify_time:.3f} s; stream {stream} has {sizes.iloc[0]} segments"
    )

    segments, connections, states = cap.segments, cap.connections, cap.states
    cases: dict[str, Callable[[], go.Figure]] = {
        "ladder, default range (first 200)": lambda: ladder_figure(segments, connections, stream),
        "ladder, handshake and teardown only": lambda: ladder_figure(
            segments, connections, stream, handshake_only=True
        ),
        "ladder, first 200, time-scaled": lambda: ladder_figure(
            segments, connections, stream, spacing="time"
        ),
        "ladder, every segment": lambda: ladder_figure(
            segments, connections, stream, frames=slice(None)
        ),
        "state timeline of the stream": lambda: state_timeline_figure(states, stream),
        "connections timeline": lambda: connections_timeline_figure(states, connections),
        "state counts": lambda: state_counts_figure(states),
    }
    figures = {}
    for name, build in cases.items():
        seconds, figures[name] = timed(build)
        print(f"  build  {name:<40} {seconds * 1e3:8.1f} ms")
    for name in ("ladder, default range (first 200)", "ladder, every segment"):
        seconds, text = timed(figures[name].to_json)
        print(f"  json   {name:<40} {seconds * 1e3:8.1f} ms, {len(text) / 1e6:.2f} MB")

    widget = PlotWidget()
    default = figures["ladder, default range (first 200)"]

    def redraw() -> None:
        widget.figure = default

    seconds, _ = timed(redraw)
    print(f"  widget redraw, default range                 {seconds * 1e3:8.1f} ms")
    for name in ("ladder, default range (first 200)", "ladder, every segment"):
        render = browser_render_ms(figures[name])
        shown = "chromium not found" if render is None else f"{render:8.1f} ms"
        print(f"  chromium first render, {name:<30} {shown}")
    busy = Path(__file__).resolve().parent.parent / "sample_pcaps" / "busy_server.pcap.gz"
    for view in ("cap.ladder(0)", "cap.explore()"):
        print(f"  fresh kernel, first {view:<16} {first_view_seconds(busy, view):8.3f} s")
    print_explorer_in_jupyterlab(args.explorer_capture)


def print_explorer_in_jupyterlab(capture: Path) -> None:
    """The explorer's build and first render on ``capture``, or why they are skipped."""
    if not capture.exists():
        print(f"  explorer in JupyterLab: skipped, {capture} missing (benchmarks/make_capture.py)")
        return
    measured = explorer_in_jupyterlab(capture)
    if measured is None:
        print("  explorer in JupyterLab: skipped (JupyterLab, playwright or chromium missing)")
        return
    connections, timings = measured
    print(f"  explorer in JupyterLab (1600x1000), {connections:,} connections:")
    for what, (build, render) in zip(("first in a new page", "second"), timings, strict=True):
        print(f"    {what:<20} build {build:6.3f} s, rows and views drawn {render:6.3f} s")


#: The notebook of the explorer's measurement: load and classify (not timed), then two
#: explorers (the second once the first is drawn), each stamped with the kernel's wall
#: clock at the start of its cell.
_LOAD_CELL = (
    "import time, hskit\ncap = hskit.load({path!r}, progress=False)\n"
    "_ = (cap.connections, cap.states)\nprint(f'connections={{len(cap.connections)}}')"
)
_EXPLORER_CELL = (
    "started = time.time(); t0 = time.perf_counter()\ne = cap.explore()\n"
    "print(f'started={{started}} build={{time.perf_counter() - t0}}')\ne"
)
#: In the page: the time (ms since the epoch) once ``count`` explorers' ladders and
#: timelines have a title, that is, plotly has drawn them.
_VIEWS_DRAWN_JS = """
(count) => document.querySelectorAll('.hskit-explorer .js-plotly-plot .gtitle').length
           === 2 * count && Date.now()
"""


def explorer_in_jupyterlab(capture: Path) -> tuple[int, list[tuple[float, float]]] | None:
    """Connections, and for a first explorer in a new page and a second one after it: the
    kernel's build seconds of ``cap.explore()`` (the first with imports cold) and the
    seconds from its cell's start until the page shows its grid's first rows and both
    views. None without JupyterLab, playwright or chromium.

    A grid's rows "arrive" with the kernel's ``data-reply`` message on the websocket
    (the streaming grid asks for the rows on screen), timed when Playwright hands the
    frame to Python; the page and the kernel run on this machine, so their wall clocks
    agree.
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("playwright") is None or shutil.which("chromium") is None:
        return None
    if importlib.util.find_spec("jupyterlab") is None:
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import nbformat
    from browser.chromium import offline_chromium
    from browser.jupyterlab import running_jupyterlab

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    notebook.cells = [
        nbformat.v4.new_code_cell(cell.format(path=str(capture)))
        for cell in (_LOAD_CELL, _EXPLORER_CELL, _EXPLORER_CELL)
    ]
    grid_rows: list[float] = []

    def watch(socket: object) -> None:
        def on_frame(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode("latin-1")
            if "data-reply" in text:
                grid_rows.append(time.time())

        socket.on("framereceived", on_frame)  # type: ignore[attr-defined]

    drawn, replies = [], []
    with (
        tempfile.TemporaryDirectory(prefix="hskit-bench-lab-") as folder,
        running_jupyterlab(Path(folder) / "lab") as lab,
    ):
        nbformat.write(notebook, lab.root_dir / "explorer.ipynb")
        screen = {"width": 1600, "height": 1000}
        with offline_chromium(Path(folder) / "profile", **screen) as (context, _blocked):
            page = context.new_page()
            page.on("websocket", watch)
            page.goto(lab.url("lab/tree/explorer.ipynb"))
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
            lab.wait_for_connected_idle_kernel()
            cells = page.locator(".jp-Notebook .jp-Cell")
            for count, cell in enumerate((cells.nth(0), cells.nth(1), cells.nth(2))):
                replies_before = len(grid_rows)
                cell.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Control+Enter")  # run the cell, stay on it
                if count == 0:
                    page.wait_for_function(
                        "() => document.body.innerText.includes('connections=')",
                        timeout=600_000,
                    )
                    continue
                drawn.append(
                    page.wait_for_function(_VIEWS_DRAWN_JS, arg=count, timeout=600_000).json_value()
                )
                deadline = time.monotonic() + 120
                while len(grid_rows) == replies_before and time.monotonic() < deadline:
                    page.wait_for_timeout(50)
                if len(grid_rows) == replies_before:
                    raise RuntimeError("the grid never received its rows")
                replies.append(grid_rows[replies_before])
            outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    connections = re.search(r"connections=(\d+)", outputs)
    runs = re.findall(r"started=([\d.]+) build=([\d.]+)", outputs)
    if connections is None or len(runs) != 2:
        raise RuntimeError(f"the explorers did not render: {outputs[-2000:]}")
    timings = [
        (float(build), max(shown / 1e3, rows) - float(started))
        for (started, build), shown, rows in zip(runs, drawn, replies, strict=True)
    ]
    return int(connections.group(1)), timings


def first_view_seconds(capture: Path, view: str) -> float:
    """Seconds ``view`` takes as the first view built in a fresh Jupyter kernel.

    The kernel loads the capture and classifies it in one cell; the next cell times
    ``view`` alone, so its imports (widgets, plotly, the grid) are paid as a user pays
    them in a new notebook.
    """
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        setup = (
            f"import time, hskit\ncap = hskit.load({str(capture)!r}, progress=False)\n"
            "_ = (cap.connections, cap.states)"
        )
        client.execute_interactive(setup, timeout=300)
        found: list[float] = []

        def keep(message: dict) -> None:
            text = message.get("content", {}).get("text", "")
            if "seconds=" in text:
                found.append(float(text.split("seconds=")[1].split()[0]))

        client.execute_interactive(
            f"t0 = time.perf_counter(); view = {view}; "
            "print(f'seconds={time.perf_counter() - t0}')",
            timeout=300,
            output_hook=keep,
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return found[0] if found else float("nan")


if __name__ == "__main__":
    main()
