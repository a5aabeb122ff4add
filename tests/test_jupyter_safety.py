"""hskit inside Jupyter: a running event loop, a real kernel, and interrupts.

The expected segment counts come from a plain ``tshark -T fields`` run, not from hskit.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import ZEEK_TRACES

import hskit
from hskit.tshark import reader
from hskit.tshark.dissect import dissect_frame
from hskit.tshark.locate import companion_executable, tshark_executable

CAPTURE = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
SEGMENT_FILTER = "tcp && !icmp && !icmpv6"


def tshark_segment_frames(tshark: str, capture: Path) -> list[int]:
    """Frame numbers of the capture's TCP segments, by tshark's own ``-T fields``."""
    output = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-o", "ip.defragment:FALSE",
         "-Y", SEGMENT_FILTER, "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(number) for number in output.split()]


def tshark_children(marker: str = "") -> list[int]:
    """Process ids of this process's tshark children whose command line contains ``marker``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command_line = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        parent = int(text[text.rindex(")") + 2 :].split()[1])
        if name == "tshark" and parent == os.getpid() and marker in command_line:
            found.append(int(stat.parent.name))
    return found


def test_load_and_dissect_work_inside_a_running_event_loop(tshark: str) -> None:
    async def in_a_coroutine() -> tuple[hskit.Capture, str]:
        assert asyncio.get_running_loop().is_running()
        cap = hskit.load(CAPTURE, backend="tshark", progress=False)
        return cap, dissect_frame(CAPTURE, 1)

    cap, text = asyncio.run(in_a_coroutine())
    assert cap.segments["frame"].tolist() == tshark_segment_frames(tshark, CAPTURE)
    assert text.startswith("Frame 1:") and "Transmission Control Protocol" in text


def test_a_notebook_kernel_loads_and_dissects_without_nest_asyncio(
    tshark: str, tmp_path: Path
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = repr(str(CAPTURE))
    cells = [
        "import asyncio, sys, hskit\n"
        "from hskit.tshark.dissect import dissect_frame\n"
        "print(asyncio.get_event_loop().is_running(), 'nest_asyncio' in sys.modules)",
        f"cap = hskit.load({path}, backend='tshark')\n"
        "print(cap.load_report.backend, cap.segments['frame'].tolist())",
        f"print(dissect_frame({path}, 1).splitlines()[0])",
    ]
    native = importlib.util.find_spec("hskit.native") is not None
    if native:
        cells.append(
            f"nat = hskit.load({path}, backend='native')\n"
            "print(nat.load_report.backend, nat.segments['frame'].tolist())"
        )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute()

    errors = [out for cell in notebook.cells for out in cell.outputs if out.output_type == "error"]
    assert not errors, errors
    printed = [
        "".join(out.get("text", "") for out in cell.outputs if out.get("name") == "stdout")
        for cell in notebook.cells
    ]
    frames = tshark_segment_frames(tshark, CAPTURE)
    assert printed[0] == "True False\n"  # a running loop, and no nest_asyncio
    assert printed[1] == f"tshark {frames}\n"
    assert printed[2].startswith("Frame 1: ")
    if native:
        assert printed[3] == f"native {frames}\n"


@pytest.fixture(scope="module")
def long_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 200k frames (a real trace appended to itself): tshark needs seconds for it."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("the orphan check reads /proc (Linux)")
    tshark = tshark_executable()
    mergecap = companion_executable(tshark, "mergecap")
    if mergecap is None:
        pytest.skip("mergecap (installed with tshark) is needed to build the long capture")
    source = next(path for path in ZEEK_TRACES if "half-duplex" in path.name)
    path = tmp_path_factory.mktemp("long") / "long.pcap"
    subprocess.run(
        [mergecap, "-a", "-F", "pcap", "-w", str(path)] + [str(source)] * 240, check=True
    )
    return path


def test_sigint_during_a_load_ends_tshark_and_removes_its_folder(
    tshark: str, long_capture: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sent = threading.Event()

    def interrupt_once_tshark_streams() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not tshark_children("tabs"):
            time.sleep(0.01)
        time.sleep(0.3)
        sent.set()
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_tshark_streams, daemon=True)
    interrupter.start()
    finished = False
    with pytest.raises(KeyboardInterrupt):
        hskit.load(long_capture, backend="tshark", progress=False)
        finished = True
        time.sleep(5)  # the load was too quick: take the signal here, then fail below
    interrupter.join()
    assert sent.is_set() and not finished
    assert tshark_children() == []
    assert not list(tmp_path.glob("hskit-tshark-*"))


def test_interrupt_raised_in_the_reading_loop_ends_tshark(
    tshark: str, long_capture: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    original = reader.segment_columns
    seen: list[list[int]] = []

    def interrupted(batch: object) -> object:
        seen.append(tshark_children("tabs"))
        if len(seen) == 2:
            raise KeyboardInterrupt
        return original(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "segment_columns", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hskit.load(long_capture, backend="tshark", progress=False)
    assert seen[-1], "tshark was still running when the interrupt came"
    assert tshark_children() == []
    assert not list(tmp_path.glob("hskit-tshark-*"))
