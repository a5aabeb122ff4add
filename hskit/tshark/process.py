"""Running tshark and its companion tools: a list of arguments, never a shell.

:func:`run` waits for a short run and gives its output; :func:`streamed_stdout` starts a
long one and yields its stdout while it writes. However a streamed run ends (an
exception, an interrupt), the process is killed and waited for.

>>> error_text('Running as user "root" and group "root". This could be dangerous.\\nbad')
'bad'
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hskit.errors import TsharkFailed

try:
    from fcntl import F_SETPIPE_SZ, fcntl
except ImportError:  # not Linux: tshark's output is read as it comes
    F_SETPIPE_SZ = None

__all__ = ["error_text", "run", "streamed_stdout"]

#: capacity asked for tshark's stdout pipe (Linux): room for its output during a pause.
_PIPE_CAPACITY = 1 << 20
#: seconds the reader lets tshark's output pile up in the pipe before reading it.
_PIPE_PAUSE = 0.01


def error_text(stderr: str) -> str:
    """tshark's stderr without its "Running as user root" chatter.

    >>> error_text('Running as user "root" and group "root". This could be dangerous.\\nbad')
    'bad'
    """
    lines = [line for line in stderr.splitlines() if not line.startswith("Running as user")]
    return "\n".join(lines).strip()


def run(arguments: list[str], env: dict[str, str] | None = None) -> str:
    """Run a tool to its end and give its stdout; :class:`TsharkFailed` if it fails."""
    completed = subprocess.run(
        arguments, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
    )
    if completed.returncode != 0:
        raise TsharkFailed(
            f"{Path(arguments[0]).name} failed (exit {completed.returncode}): "
            f"{error_text(completed.stderr)}"
        )
    return completed.stdout


@contextmanager
def streamed_stdout(
    arguments: list[str], env: dict[str, str]
) -> Iterator[tuple[IO[bytes], Callable[[], tuple[int, str]]]]:
    """Run tshark; yield its stdout, and a function giving its exit code and stderr.

    However the block ends (an exception, an interrupt), tshark is killed and waited for.
    """
    stderr_path = Path(env["WIRESHARK_CONFIG_DIR"]) / "stderr.txt"
    with open(stderr_path, "wb") as stderr_file:
        process = subprocess.Popen(
            arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file,
            env=env, start_new_session=True,
        )  # fmt: skip
    assert process.stdout is not None
    stdout: IO[bytes] = process.stdout
    capacity = _enlarged_pipe(stdout.fileno())
    if capacity:  # read through the pipe's raw file: it refuses reads once closed
        stdout = io.BufferedReader(_PausingPipeReader(process.stdout.raw, capacity))

    def finish() -> tuple[int, str]:
        process.stdout.close()
        code = process.wait()
        return code, stderr_path.read_text(encoding="utf-8", errors="replace")

    try:
        yield stdout, finish
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.wait()


def _enlarged_pipe(descriptor: int) -> int:
    """Grow the pipe to :data:`_PIPE_CAPACITY` and give its new capacity; 0 where it cannot."""
    if F_SETPIPE_SZ is None:
        return 0
    try:
        return fcntl(descriptor, F_SETPIPE_SZ, _PIPE_CAPACITY)
    except OSError:  # above the system's or the user's limit for pipes
        return 0


class _PausingPipeReader(io.RawIOBase):
    """A pipe read in large gulps: before each read, a pause lets the writer's output pile up.

    tshark writes 4 KiB at a time; a reader always waiting on the pipe is woken for each
    write, which slows tshark by about 4 %. After a pause the pipe holds what tshark wrote
    meanwhile, taken in one read; after a read that found the pipe half full or more (the
    reader is behind) the next one comes at once.

    >>> import os
    >>> reading, writing = os.pipe()
    >>> os.write(writing, b"tcp"), os.close(writing)
    (3, None)
    >>> with io.FileIO(reading) as pipe:
    ...     io.BufferedReader(_PausingPipeReader(pipe, 1 << 16)).read()
    b'tcp'
    """

    def __init__(self, pipe: io.FileIO, capacity: int) -> None:
        super().__init__()
        self._pipe = pipe
        self._capacity = capacity
        self._behind = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._behind:
            time.sleep(_PIPE_PAUSE)
        count = self._pipe.readinto(buffer)
        self._behind = count >= self._capacity // 2
        return count
