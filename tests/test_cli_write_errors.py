"""Every command that writes a file says in one line why it cannot, never with a traceback.

Each case runs the real command line in a child process: a folder that does not exist, a
path under a regular file, a folder without write permission (root's permission to write
anywhere dropped with setpriv), and ``/proc``, where no file can be made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CAPTURE = Path(__file__).resolve().parent / "data" / "real_loopback.pcap"
#: each command that writes a file, with the suffixes it writes.
WRITERS = {
    "segments": (".csv", ".parquet"),
    "connections": (".csv", ".parquet"),
    "report": (".html",),
}
CASES = [(command, suffix) for command, suffixes in WRITERS.items() for suffix in suffixes]


def run_cli(arguments: list[str], prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-P", "-c", "from hskit.cli import main; main()",
         *arguments],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def assert_one_line_error(done: subprocess.CompletedProcess, target: Path) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot write {target}: "), lines


def cannot_write_as_root_prefix() -> list[str]:
    """Nothing for a user; as root, setpriv dropping the capabilities that bypass permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("dropping root's capabilities needs setpriv (util-linux)")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"]


@pytest.mark.parametrize(("command", "suffix"), CASES)
def test_output_in_a_missing_folder_is_a_one_line_error(
    command: str, suffix: str, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / f"out{suffix}"
    assert_one_line_error(run_cli([command, str(CAPTURE), "-o", str(target)]), target)


@pytest.mark.parametrize(("command", "suffix"), CASES)
def test_output_under_a_regular_file_is_a_one_line_error(
    command: str, suffix: str, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a folder")
    target = tmp_path / "file" / f"out{suffix}"
    assert_one_line_error(run_cli([command, str(CAPTURE), "-o", str(target)]), target)


@pytest.mark.parametrize(("command", "suffix"), CASES)
def test_output_in_a_folder_without_write_permission_is_a_one_line_error(
    command: str, suffix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    target = folder / f"out{suffix}"
    done = run_cli([command, str(CAPTURE), "-o", str(target)], cannot_write_as_root_prefix())
    folder.chmod(0o755)
    assert_one_line_error(done, target)
    assert "Permission denied" in done.stderr
    assert not target.exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="/proc is Linux")
@pytest.mark.parametrize(("command", "suffix"), CASES)
def test_output_in_proc_is_a_one_line_error(command: str, suffix: str) -> None:
    target = Path(f"/proc/hskit-out{suffix}")
    assert_one_line_error(run_cli([command, str(CAPTURE), "-o", str(target)]), target)
