"""``hskit.live`` on real traffic in network namespaces this test creates.

Two namespaces joined by a veth: the client's (``10.231.0.1``) and the server's
(``10.231.0.2``), where the live capture runs. The script makes three complete
connections (port 9001), one refused (9004, no listener), one without answer (9003,
the server's nftables drops it) and a burst of half-open SYNs to one listener (9002,
the client's nftables drops the SYN-ACKs, so no ACK ever comes). The truth is the
script itself, and ``hskit.load`` of the ring concatenated by Wireshark's ``mergecap``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

import hskit
from hskit import schema
from tests.conftest import unavailable

CLIENT_IP, SERVER_IP = "10.231.0.1", "10.231.0.2"
COMPLETE_PORT, HALF_OPEN_PORT, SILENT_PORT, CLOSED_PORT = 9001, 9002, 9003, 9004
COMPLETE, HALF_OPEN = 3, 12
#: seconds the script keeps unanswered attempts open: past the kernel's SYN retries at 1 s and
#: 3 s, so the no-answer attempt has retransmitted SYNs (1.5 s left it one SYN under load).
ATTEMPT_TIME = 3.5
CLONE_NEWNET = 0x40000000
#: bound on every wait for the lab's processes.
TIMEOUT = 30.0

SERVER_SCRIPT = f"""
import socket, sys
listeners = []
for port in ({COMPLETE_PORT}, {HALF_OPEN_PORT}):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("{SERVER_IP}", port)); s.listen(64); listeners.append(s)
print("ready", flush=True)
for _ in range({COMPLETE}):
    conn, _ = listeners[0].accept()
    conn.sendall(conn.recv(100).upper()); conn.close()
sys.stdin.read()  # the half-open listener stays until the client is done
"""

CLIENT_SCRIPT = f"""
import socket, time
for i in range({COMPLETE}):
    c = socket.create_connection(("{SERVER_IP}", {COMPLETE_PORT}), timeout=5)
    c.sendall(b"hello"); c.recv(100); c.close()
try:
    socket.create_connection(("{SERVER_IP}", {CLOSED_PORT}), timeout=5)
except ConnectionRefusedError:
    pass
pending = []
for port, count in (({SILENT_PORT}, 1), ({HALF_OPEN_PORT}, {HALF_OPEN})):
    for _ in range(count):
        s = socket.socket(); s.setblocking(False)
        s.connect_ex(("{SERVER_IP}", port)); pending.append(s)
time.sleep({ATTEMPT_TIME})
for s in pending:
    s.close()
print("done", flush=True)
"""


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, timeout=TIMEOUT, capture_output=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    """Namespaces ``hsk-live-cli-<pid>`` and ``hsk-live-srv-<pid>`` joined by a veth."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        unavailable("network namespaces need root, iproute2 and nftables")
    names = {"cli": f"hsk-live-cli-{os.getpid()}", "srv": f"hsk-live-srv-{os.getpid()}"}
    try:
        for ns in names.values():
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", "hlc0", "netns", names["cli"], "type", "veth",
            "peer", "name", "hls0", "netns", names["srv"])  # fmt: skip
        for ns, dev, ip in ((names["cli"], "hlc0", CLIENT_IP), (names["srv"], "hls0", SERVER_IP)):
            run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
        drop = {
            names["srv"]: f"tcp dport {SILENT_PORT} drop",
            names["cli"]: f"tcp sport {HALF_OPEN_PORT} tcp flags & (syn | ack) == syn | ack drop",
        }
        for ns, rule in drop.items():
            run("ip", "netns", "exec", ns, "nft", "add table inet hsk; "
                "add chain inet hsk in { type filter hook input priority 0; }; "
                f"add rule inet hsk in {rule}")  # fmt: skip
        yield names
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], timeout=TIMEOUT, capture_output=True)


@contextmanager
def inside(namespace: str) -> Iterator[None]:
    """This thread (and the processes and threads it starts) in ``namespace``."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


def in_namespace(namespace: str, script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def play_script(lab: dict[str, str]) -> None:
    server = in_namespace(lab["srv"], SERVER_SCRIPT)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = in_namespace(lab["cli"], CLIENT_SCRIPT)
        out, _ = client.communicate(timeout=TIMEOUT)
        assert out.strip() == "done"
        server.communicate(timeout=TIMEOUT)
    finally:
        server.kill()


@pytest.fixture(scope="module", params=["dumpcap", "tcpdump"])
def scripted(
    request: pytest.FixtureRequest, lab: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> hskit.LiveCapture:
    """The live capture of the script by each capture program, stopped once the script's
    traffic is in a closed file (tcpdump closes its last file when it stops)."""
    if not shutil.which(request.param):
        unavailable(f"{request.param} is missing")
    folder = tmp_path_factory.mktemp("ring")
    with inside(lab["srv"]):
        live = hskit.live("hls0", bpf="tcp", folder=folder, tool=request.param)
    try:
        play_script(lab)
        live.snapshot()  # tables so far: the last files are appended to them
        if request.param == "dumpcap":
            live.wait(files=2, timeout=TIMEOUT)  # a file closed after the last packet
    finally:
        live.stop()
    return live


def merged_ring(live: hskit.LiveCapture, tmp_path: Path) -> hskit.Capture:
    whole = tmp_path / "whole.pcapng"
    files = [str(p) for p in sorted(live.folder.glob("ring_*"))]
    subprocess.run(["mergecap", "-a", "-w", str(whole), *files], check=True, timeout=TIMEOUT)
    return hskit.load(whole, progress=False)


def test_live_tables_equal_a_load_of_the_ring_afterwards(
    scripted: hskit.LiveCapture, tmp_path: Path
) -> None:
    truth = merged_ring(scripted, tmp_path)
    assert scripted.ring_files == sorted(scripted.folder.glob("ring_*"))
    pd.testing.assert_frame_equal(scripted.segments, truth.segments)
    live_columns = list(schema.LIVE_CONNECTION_DTYPES)
    pd.testing.assert_frame_equal(
        scripted.connections.drop(columns=live_columns), truth.connections
    )
    pd.testing.assert_frame_equal(scripted.states, truth.states)
    pd.testing.assert_frame_equal(scripted.diagnose(), truth.diagnose())


def test_live_capture_sees_the_scripted_connections(scripted: hskit.LiveCapture) -> None:
    connections = scripted.connections
    by_port = connections.groupby("server_port")["handshake"]
    outcome = {port: sorted(set(labels)) for port, labels in by_port}
    assert outcome == {
        COMPLETE_PORT: ["complete"],
        HALF_OPEN_PORT: ["no_final_ack"],
        SILENT_PORT: ["no_answer"],
        CLOSED_PORT: ["refused"],
    }
    assert by_port.size().to_dict() == {
        COMPLETE_PORT: COMPLETE, HALF_OPEN_PORT: HALF_OPEN, SILENT_PORT: 1, CLOSED_PORT: 1
    }  # fmt: skip
    assert scripted.drops == 0


def test_half_open_connections_are_seen_in_syn_received_now(
    scripted: hskit.LiveCapture,
) -> None:
    half_open = scripted.connections[scripted.connections["server_port"] == HALF_OPEN_PORT]
    assert set(half_open["server_state"]) == {"SYN_RECEIVED"}
    assert set(half_open["client_state"]) == {"SYN_SENT"}
    complete = scripted.connections[scripted.connections["server_port"] == COMPLETE_PORT]
    assert set(complete["termination"]) != {"open"}


def test_findings_fire_for_the_refused_and_unanswered_attempts(
    scripted: hskit.LiveCapture,
) -> None:
    kinds = set(scripted.diagnose()["kind"])
    assert {"refused", "no_answer"} <= kinds


def test_findings_run_on_their_thread_are_those_of_the_ring(
    scripted: hskit.LiveCapture, tmp_path: Path
) -> None:
    answers: list[tuple[pd.DataFrame, int]] = []
    done = threading.Event()
    scripted.findings_later(1, lambda findings, files: (answers.append((findings, files)),
                                                         done.set()))  # fmt: skip
    assert done.wait(TIMEOUT), "the findings thread did not answer"
    findings, files = answers[0]
    assert files == scripted.files_seen
    pd.testing.assert_frame_equal(findings, merged_ring(scripted, tmp_path).diagnose())
    assert scripted.latest_findings is not None


def test_stop_leaves_the_ring_and_no_capture_process(scripted: hskit.LiveCapture) -> None:
    assert not scripted.running
    assert scripted.recorder.process is not None
    assert scripted.recorder.process.returncode is not None
    assert len(list(scripted.folder.glob("ring_*"))) >= 2


ORPHAN_SCRIPT = """
import hskit, sys
live = hskit.live("lo", bpf="tcp port 9", folder=sys.argv[1])
print(live.recorder.process.pid, flush=True)
sys.stdin.read()
"""


def test_killing_the_parent_ends_the_capture_program(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("dumpcap"):
        unavailable("capturing on lo needs root and dumpcap")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert Path(f"/proc/{child}").exists()
    parent.send_signal(signal.SIGKILL)  # as a kernel restart does, no clean-up in Python
    parent.wait(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), f"capture program {child} outlived its parent"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for init counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("tool", ["dumpcap", "tcpdump"])
def test_without_capture_privilege_the_error_says_what_to_do(tool: str, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which(tool):
        unavailable(f"running as another user needs root and setpriv; the test needs {tool}")
    tmp_path.chmod(0o777)
    script = (
        "import hskit, sys\n"
        "try:\n"
        f"    hskit.live('lo', folder=sys.argv[1], tool={tool!r})\n"
        "except hskit.errors.CapturePermissionDenied as error:\n"
        "    print(error)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "HOME": "/"}
    # user nobody, with one capability: reading any file (the interpreter's packages may
    # live under /root); none of the capture capabilities.
    done = subprocess.run(
        ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
         "--inh-caps", "+dac_read_search", "--ambient-caps", "+dac_read_search",
         sys.executable, "-c", script, str(tmp_path / "ring")],
        capture_output=True, text=True, timeout=TIMEOUT, env=env, check=True,
    )  # fmt: skip
    message = done.stdout
    assert f"user 'nobody' may not capture on 'lo' with {shutil.which(tool)}" in message
    assert "usermod -a -G wireshark nobody" in message
    assert "setcap cap_net_raw,cap_net_admin=eip" in message
    assert "--cap-add NET_RAW" in message


WATCH = "from hskit.cli import main; main()"
#: seconds ``hskit watch`` runs: the script's traffic takes about 2 s of it.
WATCH_DURATION = 8


def test_watch_prints_the_scripted_counts(lab: dict[str, str], tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    watch = subprocess.Popen(
        ["ip", "netns", "exec", lab["srv"], sys.executable, "-c", WATCH, "watch",
         "-i", "hls0", "--duration", str(WATCH_DURATION), "--write", str(ring)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list(ring.glob("ring_*")) and time.monotonic() < deadline:
            time.sleep(0.1)  # dumpcap opens its first file once it captures
        play_script(lab)
        out, err = watch.communicate(timeout=TIMEOUT + WATCH_DURATION)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    summary = out[out.index(f"{ring}: ") :]
    total = COMPLETE + HALF_OPEN + 2
    assert f"{total} connections, 0 dropped by the capture" in summary.splitlines()[0]
    assert "not classified whole" not in summary
    handshakes = summary.split("\n\n")[1].splitlines()
    assert handshakes[0].split() == ["handshake", "count"]
    assert {line.split()[0]: int(line.split()[1]) for line in handshakes[1:]} == {
        "complete": COMPLETE, "no_final_ack": HALF_OPEN, "no_answer": 1, "refused": 1
    }  # fmt: skip
    assert f"ring kept: {len(list(ring.glob('ring_*')))} files in {ring}" in out


def test_a_bounded_ring_keeps_tables_of_the_files_left_on_disk(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("dumpcap"):
        unavailable("capturing on lo needs root and dumpcap")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens: every attempt is refused
    live = hskit.live("lo", bpf=f"tcp port {port}", folder=tmp_path / "ring", files=2)
    try:
        for _ in range(5):  # an attempt in each of five ring files
            with contextlib.suppress(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5)
            live.wait(files=1, timeout=TIMEOUT)
            live.snapshot()  # appended, or merged again once the ring drops a file
    finally:
        live.stop()
    on_disk = sorted((tmp_path / "ring").glob("ring_*"))
    assert live.files_seen >= 5 and len(on_disk) == 2
    assert live.ring_files == on_disk
    truth = merged_ring(live, tmp_path)
    pd.testing.assert_frame_equal(live.segments, truth.segments)
    assert len(live.connections) < 5


INTERRUPT_SCRIPT = """
import hskit, sys
live = hskit.live("lo", bpf="tcp port 9", folder=sys.argv[1])
try:
    print(live.recorder.process.pid, flush=True)
    live.wait(files=10_000)  # a cell waiting on the capture
except KeyboardInterrupt:
    print("interrupted, capturing:", live.running, flush=True)
live.wait(files=10_000)  # interrupted again: uncaught, the interpreter exits
"""


def test_an_interrupt_keeps_the_capture_and_exiting_ends_it(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("dumpcap"):
        unavailable("capturing on lo needs root and dumpcap")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    parent = subprocess.Popen(
        [sys.executable, "-c", INTERRUPT_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_sigint_as_a_terminal_gives_it,
    )  # fmt: skip
    try:
        child = int(_line_within(parent, TIMEOUT))
        parent.send_signal(signal.SIGINT)  # what a notebook's interrupt does to the kernel
        assert _line_within(parent, TIMEOUT) == "interrupted, capturing: True"
        assert _alive(child)
        parent.send_signal(signal.SIGINT)
        _, err = parent.communicate(timeout=TIMEOUT)
    finally:
        parent.kill()  # nothing left running if an assertion failed
        parent.wait(TIMEOUT)
    assert "KeyboardInterrupt" in err
    assert not _alive(child), "the capture program outlived the interpreter"
    assert list(tmp_path.glob("ring_*")), "stop at exit leaves the ring"


def _sigint_as_a_terminal_gives_it() -> None:
    """In the child before it starts Python: SIGINT neither ignored nor blocked. Both are
    inherited across exec, and the test runner's process may have either (a pytest-xdist
    worker after some tests had it, and the child hung); Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _line_within(process: subprocess.Popen[str], seconds: float) -> str:
    """The next line ``process`` prints, failing the test (not hanging) after ``seconds``."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, f"no line from the child in {seconds} s"
    return process.stdout.readline().strip()


SIGNAL_ON_ANOTHER_THREAD = """
import signal, sys, threading, time
from hskit.live.capture import LiveCapture

class Ring:  # a capture that never closes a file
    files_closed = 0

live = LiveCapture.__new__(LiveCapture)
live.recorder, live._changed = Ring(), threading.Condition()
live._files_done, live._ended = 0, False
def interrupt_from_another_thread():
    time.sleep(0.5)  # the main thread is blocked in wait() by now
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
threading.Thread(target=interrupt_from_another_thread).start()
try:
    live.wait(files=1)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_an_interrupt_that_reaches_another_thread_still_ends_a_wait() -> None:
    # The kernel may give a process's SIGINT to any of its threads; Python then only sets
    # a flag, and a main thread blocked in one lock acquisition would never see it.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_ON_ANOTHER_THREAD],
        capture_output=True, text=True, env=env, timeout=TIMEOUT,
        preexec_fn=_sigint_as_a_terminal_gives_it,
    )  # fmt: skip
    assert done.stdout.strip() == "interrupted", done.stderr
