"""Run JupyterLab headless in a throw-away folder, for a browser to drive.

Used by ``tests/test_browser_jupyterlab.py``. Nothing here touches the user's Jupyter
configuration: config, data, runtime, settings and workspaces all live in the temp
folder, and every process started is stopped when its context manager exits.

>>> with running_jupyterlab(tmp_path) as lab:  # doctest: +SKIP
...     print(lab.url("lab/tree/ladder.ipynb"))
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: JupyterLab user settings that keep pop-ups (news, kernel pickers) out of the way.
_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass(frozen=True)
class JupyterLab:
    """A running JupyterLab server: where it listens and how to authenticate."""

    port: int
    token: str
    root_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server, token included."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` and decode its JSON."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/{path}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def wait_for_connected_idle_kernel(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until a kernel runs, idle, with a browser connected to it; return its model."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kernels = self.api("kernels")
            except urllib.error.HTTPError:  # a kernel starting or stopping right now
                kernels = []
            ready = [
                kernel
                for kernel in kernels
                if kernel["execution_state"] == "idle" and kernel["connections"] > 0
            ]
            if ready:
                return ready[0]
            time.sleep(0.25)
        raise TimeoutError(f"no idle kernel with a connection after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_jupyterlab(folder: Path, startup_timeout: float = 90.0) -> Iterator[JupyterLab]:
    """Start ``jupyter lab`` serving ``folder / "work"``; stop it (and its kernels) on exit."""
    root = folder / "work"
    root.mkdir(parents=True, exist_ok=True)
    settings = folder / "lab-settings"
    for name, values in _LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    # The kernel runs this interpreter (the one with hskit installed), whatever is on PATH.
    kernel = folder / "data" / "kernels" / "python3" / "kernel.json"
    kernel.parent.mkdir(parents=True)
    kernel.write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        )
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / "config"),
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
    }
    port, token = free_port(), secrets.token_hex(16)
    log_path = folder / "jupyterlab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={root}",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = JupyterLab(port, token, root, process, log_path)
    try:
        _wait_until_up(lab, startup_timeout)
        yield lab
    finally:
        _stop(process)


def _wait_until_up(lab: JupyterLab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {lab.process.returncode}:\n{lab.log()}")
        try:
            lab.api("status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter lab did not answer in {timeout} s:\n{lab.log()}"
                ) from None
            time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it shuts its kernels down), SIGKILL if it hangs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id still exists (and is not a zombie)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"
