"""Running tshark and its companion tools: a list of arguments, never a shell, isolated.

:func:`run` waits for a short run and gives its output; :func:`streamed_stdout` starts a
long one and yields its stdout while it writes. Both run inside an
:class:`~hskit.tshark.isolation.Isolation` (its environment, its folder).

A run never outlives the reading: however a streamed run ends (an exception, Ctrl-C, a
Jupyter interrupt), the process is killed and waited for. When the Python process itself
is terminated (SIGTERM, SIGHUP) during a run, hskit's handler, installed on the first run
from the main thread where the signal still has its default action, kills the running
tools, removes their folders, then ends the process by the same signal, as it would have
ended without hskit. (A SIGKILL cannot be caught: then tshark ends when it next writes to
the closed pipe.)

>>> error_text('Running as user "root" and group "root". This could be dangerous.\\nbad')
'bad'
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hskit.errors import TsharkFailed, TsharkNotFound
from hskit.tshark.isolation import Isolation
from hskit.tshark.locate import INSTALL_HINT

try:
    from fcntl import F_SETPIPE_SZ, fcntl
except ImportError:  # not Linux: tshark's output is read as it comes
    F_SETPIPE_SZ = None

__all__ = ["error_text", "run", "streamed_stdout"]

#: capacity asked for tshark's stdout pipe (Linux): room for its output during a pause.
_PIPE_CAPACITY = 1 << 20
#: seconds the reader lets tshark's output pile up in the pipe before reading it.
_PIPE_PAUSE = 0.01
#: signals that end the Python process and, with hskit's handler, its tools first.
_TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: tools running now, by process id, with their run's folder.
_RUNNING: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}


def error_text(stderr: str) -> str:
    """tshark's stderr without its "Running as user root" chatter.

    >>> error_text('Running as user "root" and group "root". This could be dangerous.\\nbad')
    'bad'
    """
    lines = [line for line in stderr.splitlines() if not line.startswith("Running as user")]
    return "\n".join(lines).strip()


def run(arguments: list[str], isolation: Isolation, *, check: bool = True) -> str:
    """Run a tool to its end in ``isolation`` and give its stdout.

    With ``check``, a non-zero exit raises :class:`~hskit.errors.TsharkFailed` with its
    stderr; a program that cannot be started raises :class:`~hskit.errors.TsharkNotFound`.
    """
    process = _started(arguments, isolation, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with _ended_with_python(process, isolation.folder), process:
        try:
            stdout, stderr = process.communicate()
        except BaseException:
            process.kill()
            raise
    if check and process.returncode != 0:
        raise TsharkFailed(
            f"{Path(arguments[0]).name} failed (exit {process.returncode}): "
            f"{error_text(stderr.decode('utf-8', errors='replace'))}"
        )
    return stdout.decode("utf-8", errors="replace")


@contextmanager
def streamed_stdout(
    arguments: list[str], isolation: Isolation
) -> Iterator[tuple[IO[bytes], Callable[[], tuple[int, str]]]]:
    """Run tshark; yield its stdout, and a function giving its exit code and stderr.

    However the block ends (an exception, an interrupt), tshark is killed and waited for.
    """
    stderr_path = isolation.folder / "stderr.txt"
    with open(stderr_path, "wb") as stderr_file:
        process = _started(
            arguments, isolation, stdout=subprocess.PIPE, stderr=stderr_file,
            start_new_session=True,
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

    with _ended_with_python(process, isolation.folder):
        try:
            yield stdout, finish
        finally:
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            process.wait()


def _started(
    arguments: list[str], isolation: Isolation, **options: object
) -> subprocess.Popen[bytes]:
    """The tool started in ``isolation``: its environment, its folder, no stdin."""
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            arguments, stdin=subprocess.DEVNULL, env=isolation.env, cwd=isolation.folder,
            **options,
        )  # fmt: skip
    except OSError as error:
        raise TsharkNotFound(f"{arguments[0]} cannot run ({error}); {INSTALL_HINT}") from None


@contextmanager
def _ended_with_python(process: subprocess.Popen[bytes], folder: Path) -> Iterator[None]:
    """While the block runs, a SIGTERM or SIGHUP of Python ends ``process`` first."""
    _install_termination_handler()
    _RUNNING[process.pid] = (process, folder)
    try:
        yield
    finally:
        _RUNNING.pop(process.pid, None)


def _install_termination_handler() -> None:
    """hskit's handler for each terminating signal that still has its default action.

    Only the main thread may set a handler; a run from another thread relies on one set
    by an earlier run from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _TERMINATING:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _end_tools_then_python)


def _end_tools_then_python(signum: int, _frame: object) -> None:
    """Kill the running tools, remove their folders, then die by ``signum`` as before.

    No wait for the killed tools: the handler may run while this thread waits for one of
    them (inside ``Popen.wait``, holding its lock), and the kill is enough.
    """
    for process, folder in tuple(_RUNNING.values()):
        process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


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
