"""The capture program as a child process writing a ring of capture files.

dumpcap (Wireshark's capture engine) writes a ring of pcapng files, one per
``period`` seconds (``-b duration``), and prints each file's name once it has closed
it (``-b printname:stdout``): only closed files are ever read. Without dumpcap,
tcpdump rotates files (``-G``) and a file counts as closed once a newer one exists
(tcpdump rotates only when a packet arrives, so its last file waits for traffic).

The child cannot outlive its parent: it is asked for SIGTERM when the thread that
started it dies (``prctl(PR_SET_PDEATHSIG)``, Linux), it runs in a session of its own
so a terminal's Ctrl-C reaches only hskit (which stops it cleanly), and every running
recorder is stopped at interpreter exit. Where the kernel drops the death signal (a
binary with file capabilities), dumpcap dies of SIGPIPE at its next ring file, since
nobody reads its output any more.

>>> recorder = Recorder(RingSettings("lo", bpf="tcp", folder=Path("ring")))  # doctest: +SKIP
>>> recorder.start(); next(recorder.closed_files())  # doctest: +SKIP
PosixPath('ring/ring_00001_20261203120000.pcapng')
"""

from __future__ import annotations

import atexit
import ctypes
import getpass
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hskit.errors import CaptureFailed, CapturePermissionDenied, CaptureToolNotFound

#: capture programs, in order of preference.
TOOLS: tuple[str, ...] = ("dumpcap", "tcpdump")
#: linux/prctl.h: ask for a signal when the parent thread dies.
PR_SET_PDEATHSIG = 1
#: how long a capture program may take to open the interface and its first file.
START_TIMEOUT = 15.0
#: how long stop() waits for the program to close its last file before killing it.
STOP_TIMEOUT = 10.0
#: how often the tcpdump ring folder is looked at for a newer file.
TCPDUMP_POLL = 0.2
#: dumpcap's last words on stderr: frames received and dropped per interface.
DUMPCAP_COUNTS = re.compile(r"Packets received/dropped on interface '.*': (\d+)/(\d+)")
#: tcpdump's last words on stderr.
TCPDUMP_DROPS = re.compile(r"(\d+) packets? dropped by kernel")
#: what the capture programs say when the user lacks the privilege.
NO_PRIVILEGE = re.compile(r"permission|Operation not permitted", re.IGNORECASE)
#: dumpcap's line when it has opened the interface and its first file.
DUMPCAP_STARTED = "File: "
#: tcpdump's line when it has opened the interface.
TCPDUMP_STARTED = "tcpdump: listening on "

_running: weakref.WeakSet[Recorder] = weakref.WeakSet()


@dataclass(frozen=True)
class RingSettings:
    """What to capture and where the ring goes.

    >>> RingSettings("lo", bpf="tcp port 80", folder=Path("/tmp/ring"), period=2).period
    2
    """

    interface: str
    bpf: str | None
    folder: Path
    #: seconds per ring file (dumpcap ``-b duration``, tcpdump ``-G``).
    period: int = 1
    #: ring size (dumpcap ``-b files``): older files are deleted; None keeps every file.
    files: int | None = None
    #: the kernel buffer, MiB (dumpcap ``-B``).
    buffer_mib: int = 32
    #: ``"dumpcap"``, ``"tcpdump"``, or None for the first of them that is installed.
    tool: str | None = None


def permission_advice(interface: str, program: str) -> str:
    """What to do when this user may not capture: the one message for every case.

    >>> "--cap-add NET_RAW" in permission_advice("eth0", "/usr/bin/dumpcap")
    True
    """
    user = getpass.getuser()
    dumpcap = shutil.which("dumpcap") or "/usr/bin/dumpcap"
    return (
        f"user {user!r} may not capture on {interface!r} with {program} "
        "(capturing needs CAP_NET_RAW and CAP_NET_ADMIN). "
        "On Debian/Ubuntu: `sudo dpkg-reconfigure wireshark-common` (answer Yes), then "
        f"`sudo usermod -a -G wireshark {user}` and log in again; or give dumpcap the "
        f"capabilities: `sudo setcap cap_net_raw,cap_net_admin=eip {dumpcap}`. "
        "In a container: start it with `--cap-add NET_RAW --cap-add NET_ADMIN`."
    )


def _tied_to(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: SIGTERM to the child when its parent's thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)

    def tie() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)

    return tie


class Recorder:
    """One run of the capture program; :meth:`closed_files` yields the ring as it closes."""

    def __init__(self, settings: RingSettings) -> None:
        self.settings = settings
        self.tool = self._choose_tool(settings.tool)
        self.process: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        self._started = threading.Event()
        self._closed: queue.Queue[Path | None] = queue.Queue()
        #: how many ring files the program has closed so far (loaded or not).
        self.files_closed = 0
        #: when the program said each ring file was closed (``time.monotonic()`` seconds),
        #: until the loader takes it.
        self.closed_at: dict[Path, float] = {}

    def _report_closed(self, path: Path) -> None:
        self.closed_at[path] = time.monotonic()
        self.files_closed += 1
        self._closed.put(path)

    @staticmethod
    def _choose_tool(wanted: str | None) -> str:
        if wanted is not None and wanted not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)} or None, not {wanted!r}")
        for name in (wanted,) if wanted else TOOLS:
            path = shutil.which(name)
            if path:
                return path
        raise CaptureToolNotFound(
            f"{wanted or 'dumpcap or tcpdump'} is not installed; "
            "Debian/Ubuntu: sudo apt-get install wireshark-common (dumpcap) or tcpdump"
        )

    @property
    def is_dumpcap(self) -> bool:
        return Path(self.tool).name == "dumpcap"

    def argv(self) -> list[str]:
        """The capture program's arguments (no shell).

        >>> Recorder(RingSettings("lo", "tcp", Path("r"), tool="dumpcap")).argv()[1:5]
        ['-i', 'lo', '-q', '-w']
        """
        s = self.settings
        bpf = [s.bpf] if s.bpf else []
        if self.is_dumpcap:
            ring = ["-b", f"duration:{s.period}", "-b", "printname:stdout"]
            ring += ["-b", f"files:{s.files}"] if s.files else []
            return [self.tool, "-i", s.interface, "-q", "-w", str(s.folder / "ring.pcapng"),
                    "-B", str(s.buffer_mib), *ring, *(["-f", *bpf] if bpf else [])]  # fmt: skip
        user = ["-Z", "root"] if os.geteuid() == 0 else []
        files = str(s.folder / "ring_%Y%m%d%H%M%S.pcap")
        return [self.tool, "-i", s.interface, "-n", "-U", "-w", files,
                "-G", str(s.period), *user, *bpf]  # fmt: skip

    def start(self) -> None:
        """Start the program; return once it captures, or raise a typed error."""
        self.settings.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
                preexec_fn=_tied_to(os.getpid()),
            )
        except PermissionError:
            raise CapturePermissionDenied(
                permission_advice(self.settings.interface, self.tool)
            ) from None
        _running.add(self)
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, name="hskit-live-stderr", daemon=True
        )
        self._stderr_reader.start()
        watcher = self._read_names if self.is_dumpcap else self._watch_folder
        threading.Thread(target=watcher, name="hskit-live-ring", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._started.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self._raise_start_failure()

    def _raise_start_failure(self) -> None:
        self._stderr_reader.join(STOP_TIMEOUT)
        text = self.stderr.strip()
        if NO_PRIVILEGE.search(text):
            raise CapturePermissionDenied(permission_advice(self.settings.interface, self.tool))
        raise CaptureFailed(f"{Path(self.tool).name} did not start capturing: {text}")

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        marker = DUMPCAP_STARTED if self.is_dumpcap else TCPDUMP_STARTED
        for line in self.process.stderr:
            self._stderr.append(line)
            if line.startswith(marker):
                self._started.set()

    def _read_names(self) -> None:
        """dumpcap prints each ring file's name once closed."""
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self._report_closed(Path(line.strip()))
        self._closed.put(None)

    def _watch_folder(self) -> None:
        """tcpdump: a file is closed once a newer one exists, or tcpdump has ended."""
        assert self.process is not None
        reported = 0
        while True:
            ended = self.process.poll() is not None
            files = sorted(self.settings.folder.glob("ring_*.pcap"))
            closed = files if ended else files[:-1]
            for path in closed[reported:]:
                self._report_closed(path)
            reported = max(reported, len(closed))
            if ended:
                self._closed.put(None)
                return
            time.sleep(TCPDUMP_POLL)

    def closed_files(self) -> Iterator[Path]:
        """Each ring file once it is closed, in order; ends when the program has ended."""
        while (path := self._closed.get()) is not None:
            yield path

    @property
    def stderr(self) -> str:
        """What the program said on stderr so far."""
        return "".join(self._stderr)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Ask the program to close its last file and end; kill it if it does not."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _running.discard(self)

    def counts(self) -> tuple[int | None, int | None]:
        """``(received, dropped)`` frames as the program reported them when it ended
        (None where it did not say)."""
        text = self.stderr
        if self.is_dumpcap:
            found = DUMPCAP_COUNTS.findall(text)
            if not found:
                return None, None
            return sum(int(r) for r, _ in found), sum(int(d) for _, d in found)
        drops = TCPDUMP_DROPS.search(text)
        return None, int(drops.group(1)) if drops else None


@atexit.register
def _stop_all() -> None:
    for recorder in list(_running):
        recorder.stop()
