"""Hostile folders and hostile input against hskit's runs of tshark (issue 18).

- A folder that names its own "tshark" (pyshark's ``config.ini``, a program in the current
  folder, an empty PATH entry) is never run.
- Plugins and ``init.lua`` files of the user (and, where tshark allows it, of the
  installation) never run in any of hskit's tshark runs: marker plugins that write a file
  when loaded prove it, after a plain tshark run shows that they do run.
- FIFOs, devices, empty and unreadable files, and NUL bytes in a display filter give typed
  errors; terminating Python during a load leaves no tshark behind.
- Captures of kinds other projects have (``tests/data/tshark_cases``): TCP behind link
  layers and tunnels no stack here makes, mixed-version tunnels, reserved flag bits and
  corrupt timestamps, checked against tshark's full dissection and the native reader.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit import export
from hskit.tshark import facts, process
from hskit.tshark import isolation as isolation_rules
from hskit.tshark.dissect import dissect_frame
from hskit.tshark.isolation import Isolation, installed_plugin_folder
from hskit.tshark.locate import companion_executable

DATA = Path(__file__).resolve().parent / "data"
#: a capture the native reader hands to tshark (GRE), and a plain one.
GRE_CAPTURE = DATA / "bad_encapsulation_gre.pcap"
CAPTURE = DATA / "real_loopback.pcap"
#: the unprivileged user tshark runs as when the tests run as root.
NOBODY = 65534
MARKER_LUA = 'local f = io.open("{path}", "a"); f:write("ran\\n"); f:close()\n'
MARKER_C = (
    "#include <stdio.h>\n"
    "__attribute__((constructor)) static void marker(void) {\n"
    '    FILE *f = fopen("%s", "a"); if (f) { fputs("ran\\n", f); fclose(f); }\n'
    "}\n"
)


# ------------------------------------------------------------------ 1. locating tshark
def marker_program(path: Path, marker: Path) -> None:
    path.write_text(f"#!/bin/sh\necho ran >> {marker}\nexit 1\n")
    path.chmod(0o755)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="shell-script marker programs")
def test_a_folder_naming_its_own_tshark_never_runs_it(tshark: str, tmp_path: Path) -> None:
    folder, marker = tmp_path / "downloaded", tmp_path / "marker"
    folder.mkdir()
    marker_program(folder / "tshark", marker)
    marker_program(folder / "capinfos", marker)
    marker_program(folder / "evil", marker)
    shutil.copy(GRE_CAPTURE, folder / "capture.pcap")
    (folder / "config.ini").write_text(f"[tshark]\ntshark_path = {folder / 'evil'}\n")
    # an empty PATH entry means the current folder to a shell
    env = {**os.environ, "PATH": os.pathsep + os.environ["PATH"]}
    env.pop("HSKIT_TSHARK", None)
    # the folder is hostile for pyshark's own locator, which hskit does not use
    pyshark = subprocess.run(
        [sys.executable, "-P", "-c",
         "from pyshark.tshark.tshark import get_process_path; print(get_process_path())"],
        cwd=folder, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if pyshark.returncode == 0:
        assert pyshark.stdout.strip() == str(folder / "evil")
    runs = {
        "hskit info": ["-c", "from hskit.cli import main; main()", "info", "capture.pcap"],
        "hskit.load": [
            "-c",
            "import hskit; cap = hskit.load('capture.pcap', backend='tshark', progress=False);"
            "print(cap.load_report.backend, len(cap.segments))",
        ],
    }
    for name, arguments in runs.items():
        done = subprocess.run(
            [sys.executable, "-P", *arguments], cwd=folder, env=env, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stderr)
        assert "tshark" in done.stdout, name
    assert not marker.exists()


def test_hskit_tshark_names_the_program_and_a_wrong_one_is_an_error(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HSKIT_TSHARK", tshark)
    assert hskit.load(CAPTURE, backend="tshark", progress=False).load_report.backend == "tshark"
    monkeypatch.setenv("HSKIT_TSHARK", str(tmp_path / "missing-tshark"))
    with pytest.raises(hskit.errors.TsharkNotFound, match="HSKIT_TSHARK"):
        hskit.load(CAPTURE, backend="tshark", progress=False)


# ------------------------------------------------------------- 2. isolation of every run
@dataclass
class Markers:
    """Marker plugins and init.lua files, each writing its own file in ``fired`` when run.

    ``home`` is a user's home holding the personal ones; ``data`` and ``plugins`` stand
    for an installation's data folder (its init.lua) and plugin folder (a Lua plugin, and
    links to the real compiled plugins).
    """

    home: Path
    data: Path
    plugins: Path
    fired: Path
    kinds: tuple[str, ...]

    def env(self) -> dict[str, str]:
        """The environment of a user whose profile holds the markers."""
        return {**os.environ, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config")}

    def ran(self) -> list[str]:
        return sorted(path.name for path in self.fired.iterdir())

    def reset(self) -> None:
        for path in self.fired.iterdir():
            path.unlink()


def unprivileged_prefix() -> list[str]:
    """Run a command as an unprivileged user: nothing when we are one, setpriv as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running tshark unprivileged as root needs setpriv (util-linux)")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def compile_marker(compiler: str, source: Path, library: Path, fired: Path) -> None:
    source.write_text(MARKER_C % fired)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)


@pytest.fixture
def markers(tshark: str) -> Iterator[Markers]:
    """Markers in a world-readable folder (the unprivileged runs read it)."""
    base = Path(tempfile.mkdtemp(prefix="hskit-hostile-"))
    try:
        home, data, plugins, fired = (base / name for name in ("home", "data", "plugins", "fired"))
        personal = home / ".local" / "lib" / "wireshark" / "plugins"
        config = home / ".config" / "wireshark"
        for folder in (personal, config, data, plugins, fired):
            folder.mkdir(parents=True)
        lua = {
            personal / "marker.lua": "personal_lua",
            config / "init.lua": "personal_init_lua",
            plugins / "marker.lua": "global_lua",
            data / "init.lua": "global_init_lua",
        }
        for path, kind in lua.items():
            path.write_text(MARKER_LUA.format(path=fired / kind))
        (data / "colorfilters").write_text("")  # what marks a data folder
        installed = installed_plugin_folder(tshark)
        for compiled in installed.iterdir() if installed is not None else ():
            if compiled.is_dir():
                (plugins / compiled.name).symlink_to(compiled)
        kinds = list(lua.values())
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is not None:  # compiled personal plugins: a dissector and a file format
            version = ".".join(map(str, facts.tshark_version(tshark)[:2]))
            for kind in ("epan", "wiretap"):
                folder = personal / version / kind
                folder.mkdir(parents=True)
                compile_marker(compiler, base / "marker.c", folder / "marker.so",
                               fired / f"compiled_{kind}")  # fmt: skip
                kinds.append(f"compiled_{kind}")
        for path in (base, *base.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o777 if path == fired else path.stat().st_mode | 0o755 & ~0o222)
        yield Markers(home, data, plugins, fired, tuple(sorted(kinds)))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_plain(arguments: list[str], env: dict[str, str]) -> None:
    subprocess.run(arguments, env=env, capture_output=True, check=False, cwd=tempfile.gettempdir())


def test_markers_do_run_in_plain_tshark_runs(tshark: str, markers: Markers) -> None:
    """The test below could fail: unisolated, every marker runs (as an unprivileged user)."""
    env = {**markers.env(), "WIRESHARK_DATA_DIR": str(markers.data),
           "WIRESHARK_PLUGIN_DIR": str(markers.plugins)}  # fmt: skip
    run_plain([*unprivileged_prefix(), tshark, "-r", str(CAPTURE), "-c", "1"], env)
    assert markers.ran() == list(markers.kinds)


@pytest.fixture
def every_run_unprivileged(
    tshark: str, markers: Markers, monkeypatch: pytest.MonkeyPatch
) -> list[list[str]]:
    """Every tool hskit starts runs as an unprivileged user (tshark honours the variables
    that relocate the installation's folders only then), from an installation whose data
    and plugin folders are the markers'. Gives the argument lists started."""
    prefix = unprivileged_prefix()
    started: list[list[str]] = []
    original = process._started

    def unprivileged(arguments: list[str], isolation: Isolation, **options: object) -> object:
        for path in (isolation.folder, *isolation.folder.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o777)
        # the installation's folders, seen without their Lua and configuration files
        assert {"WIRESHARK_DATA_DIR", "WIRESHARK_PLUGIN_DIR"} <= isolation.env.keys()
        started.append(arguments)
        return original([*prefix, *arguments], isolation, **options)

    monkeypatch.setattr(process, "_started", unprivileged)
    monkeypatch.setattr(isolation_rules, "installed_data_folder", lambda _: markers.data)
    monkeypatch.setattr(isolation_rules, "installed_plugin_folder", lambda _: markers.plugins)
    return started


def hskit_runs_every_kind_of_tshark_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version, protocol list, load (tshark and capinfos), filtered load, dissection, export
    (tshark -w, mergecap), each started afresh."""
    monkeypatch.setenv("HSKIT_CACHE_DIR", str(tmp_path / "cache"))
    facts.tshark_version.cache_clear()
    facts.disabled_protocols.cache_clear()
    monkeypatch.setattr(export, "MAX_FILTER_CHARS", 10)  # several parts: mergecap joins them
    cap = hskit.load(CAPTURE, backend="tshark", progress=False)
    hskit.load(CAPTURE, backend="tshark", display_filter="tcp.port > 0", progress=False)
    dissect_frame(CAPTURE, 2)
    export.to_pcap(CAPTURE, cap.segments, [0, 2], tmp_path / "selected.pcap")


def started_kinds(started: list[list[str]]) -> set[str]:
    """What each run was: a tool's name, or for tshark the option that tells its runs apart."""
    telling = {"--version": "version", "-G": "protocols", "-V": "dissection", "-w": "export",
               "-T": "load"}  # fmt: skip
    kinds = set()
    for arguments in started:
        program = Path(arguments[0]).name
        if program != "tshark":
            kinds.add(program)
        else:
            kinds.add(next(kind for option, kind in telling.items() if option in arguments))
    return kinds


def test_no_plugin_or_init_lua_runs_in_any_run_of_hskit_unprivileged(
    tshark: str,
    markers: Markers,
    every_run_unprivileged: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name, value in markers.env().items():
        monkeypatch.setenv(name, value)
    hskit_runs_every_kind_of_tshark_run(tmp_path, monkeypatch)
    kinds = started_kinds(every_run_unprivileged)
    assert kinds == {"version", "protocols", "load", "capinfos", "dissection", "export",
                     "mergecap"}  # fmt: skip
    assert markers.ran() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="what root's runs load differs; checked as root")
def test_no_personal_plugin_or_init_lua_runs_in_any_run_of_hskit_as_root(
    tshark: str, markers: Markers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # as root tshark loads the personal Lua files (Debian's init.lua allows it), not the
    # personal compiled plugins, and ignores WIRESHARK_DATA_DIR and WIRESHARK_PLUGIN_DIR
    run_plain([tshark, "-r", str(CAPTURE), "-c", "1"], markers.env())
    assert markers.ran() == ["personal_init_lua", "personal_lua"]
    markers.reset()
    for name, value in markers.env().items():
        monkeypatch.setenv(name, value)
    hskit_runs_every_kind_of_tshark_run(tmp_path, monkeypatch)
    assert markers.ran() == []


# --------------------------------------------------- 6. files that are not regular files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("backend", ["auto", "native", "tshark"])
def test_a_fifo_is_refused_at_once_on_every_backend(backend: str, tmp_path: Path) -> None:
    fifo = tmp_path / "capture.pcap"
    os.mkfifo(fifo)
    code = (
        "import hskit, sys\n"
        f"try: hskit.load({str(fifo)!r}, backend={backend!r}, progress=False)\n"
        "except hskit.errors.NotACapture as error: print(error); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "is a FIFO (named pipe), not a capture file" in done.stdout


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="POSIX character devices")
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/urandom"])
def test_a_character_device_is_refused(device: str) -> None:
    for backend in ("auto", "native", "tshark"):
        with pytest.raises(hskit.errors.NotACapture, match="is a character device"):
            hskit.load(device, backend=backend, progress=False)  # type: ignore[arg-type]
    with pytest.raises(hskit.errors.NotACapture, match="is a character device"):
        dissect_frame(device, 1)


# ------------------------------------------------------------------- 7. untyped errors
def test_an_empty_file_is_not_a_capture_on_the_tshark_backend_too(
    tshark: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.pcap"
    empty.touch()
    # tshark itself reads it as a capture of no frames
    plain = subprocess.run([tshark, "-r", str(empty)], capture_output=True, check=False)
    assert plain.returncode == 0 and not plain.stdout
    with pytest.raises(hskit.errors.NotACapture, match="empty"):
        hskit.load(empty, backend="tshark", progress=False)
    cli = subprocess.run(
        [sys.executable, "-P", "-c", "from hskit.cli import main; main()", "info", str(empty),
         "--backend", "tshark"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 1 and "NotACapture" in cli.stderr and "Traceback" not in cli.stderr


@pytest.mark.parametrize("backend", ["auto", "native", "tshark"])
def test_an_unreadable_file_raises_capture_unreadable(backend: str, tmp_path: Path) -> None:
    unreadable = tmp_path / "capture.pcap"
    shutil.copy(CAPTURE, unreadable)
    unreadable.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capability that lets it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("dropping root's capabilities needs setpriv (util-linux)")
        prefix = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"]
    code = (
        "import hskit, sys\n"
        f"try: hskit.load({str(unreadable)!r}, backend={backend!r}, progress=False)\n"
        "except hskit.errors.CaptureUnreadable as error: print(error); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    done = subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Permission denied" in done.stdout


@pytest.mark.parametrize("backend", ["auto", "tshark"])
def test_a_nul_byte_in_a_display_filter_raises_invalid_filter(backend: str) -> None:
    with pytest.raises(hskit.errors.InvalidFilter, match="NUL byte at position 3"):
        hskit.load(CAPTURE, backend=backend, display_filter="tcp\0 or -V", progress=False)  # type: ignore[arg-type]
    with pytest.raises(hskit.errors.InvalidFilter, match="must be text"):
        hskit.load(CAPTURE, backend=backend, display_filter=b"tcp", progress=False)  # type: ignore[arg-type]


def test_a_display_filter_with_the_native_backend_raises_invalid_filter() -> None:
    with pytest.raises(hskit.errors.InvalidFilter, match="needs the tshark backend"):
        hskit.load(CAPTURE, backend="native", display_filter="tcp", progress=False)


# ------------------------------------------------- 6. a terminated load ends its tshark
def processes_named(name: str, marker: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of the processes called ``name`` whose command line has ``marker``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = status.read_text()
            command_line = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text[text.index("(") + 1 : text.rindex(")")] == name and marker in command_line:
            found.append((int(status.parent.name), int(text[text.rindex(")") + 2 :].split()[1])))
    return found


@pytest.fixture(scope="module")
def long_capture(tmp_path_factory: pytest.TempPathFactory, tshark: str) -> Path:
    """About 200k frames (a real trace appended to itself): tshark needs seconds for it."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("the process checks read /proc (Linux)")
    source = DATA / "real_loopback.pcap"
    path = tmp_path_factory.mktemp("long") / "long-for-sigterm.pcap"
    mergecap = companion_executable(tshark, "mergecap")
    assert mergecap is not None
    subprocess.run([mergecap, "-a", "-F", "pcap", "-w", str(path)] + [str(source)] * 2700,
                   check=True)  # fmt: skip
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_terminating_python_during_a_load_ends_tshark_and_removes_its_folder(
    tshark: str, long_capture: Path, tmp_path: Path, signum: int
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    code = (  # default actions first: pytest run under nohup would pass SIGHUP ignored on
        "import signal\n"
        "for number in (signal.SIGTERM, signal.SIGHUP):\n"
        "    signal.signal(number, signal.SIG_DFL)\n"
        "import hskit\n"
        f"hskit.load({str(long_capture)!r}, backend='tshark', progress=False)\n"
        "print('finished')\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any(
            parent == child.pid for _, parent in processes_named("tshark", long_capture.name)
        ):
            assert time.monotonic() < deadline, "tshark never started"
            time.sleep(0.01)
        time.sleep(0.3)
        child.send_signal(signum)
        stdout, _ = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signum  # ended by the signal, as without hskit
    assert "finished" not in stdout
    assert processes_named("tshark", long_capture.name) == []
    assert processes_named("capinfos", long_capture.name) == []
    assert list(scratch.iterdir()) == []


# -------------------------------------- 9, 10, 13, 5: other projects' kinds of captures
CASES = DATA / "tshark_cases"
#: the frames of real_loopback.pcap behind link layers and a tunnel no stack here makes.
WRAPPED = [*sorted(CASES.glob("link_*.pcap")), CASES / "tunnel_geneve.pcap"]


def tshark_fields(tshark: str, capture: Path, *fields: str) -> list[list[str]]:
    """Each frame's ``fields`` by tshark's full dissection (every protocol enabled)."""
    arguments = [tshark, "-n", "-r", str(capture), "-T", "fields", "-E", "occurrence=a"]
    for field in fields:
        arguments += ["-e", field]
    output = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in output.splitlines()]


@pytest.mark.parametrize("capture", WRAPPED, ids=lambda path: path.name)
def test_tcp_behind_each_encapsulation_is_the_original_capture_s_tcp(
    tshark: str, capture: Path
) -> None:
    layers = {row[0] for row in tshark_fields(tshark, capture, "frame.protocols")}
    assert all(":tcp" in chain or ":icmp" in chain or ":udp" in chain for chain in layers)
    cap = hskit.load(capture, backend="tshark", progress=False)
    original = hskit.load(CAPTURE, backend="native", progress=False)
    assert len(cap.segments) == len(original.segments) > 0
    pd.testing.assert_frame_equal(cap.segments, original.segments)
    assert cap.load_report.skipped == original.load_report.skipped


def test_no_protocol_below_tcp_in_any_test_capture_is_disabled(tshark: str) -> None:
    disabled = set(facts.disabled_protocols(tshark).split())
    below_tcp: set[str] = set()
    for capture in [*ALL_CAPTURES, *sorted(CASES.glob("*.pcap"))]:
        for (chain,) in tshark_fields(tshark, capture, "frame.protocols"):
            layers = chain.split(":")
            if "tcp" in layers:
                below_tcp.update(layers[: layers.index("tcp")])
    assert {"arcnet", "ipoib", "juniper", "geneve", "vxlan"} <= below_tcp
    assert below_tcp & disabled == set()
    assert {"http", "tls", "ssh", "dns", "quic", "openvpn"} <= disabled


def test_mixed_ip_version_tunnels_give_the_inner_header_carrying_tcp(tshark: str) -> None:
    capture = CASES / "tunnel_vxlan_mixed.pcap"
    segments = hskit.load(capture, backend="tshark", progress=False).segments
    rows = tshark_fields(tshark, capture, "frame.number", "frame.protocols", "tcp.flags")
    # the layer before tcp is the inner IP header, of the other version than the outer one
    inner = {int(number): chain.split(":")[chain.split(":").index("tcp") - 1]
             for number, chain, flags in rows if flags}  # fmt: skip
    outer = {int(number): chain.split(":")[2] for number, chain, _ in rows}
    assert segments["frame"].tolist() == sorted(inner)
    assert {inner[frame] != outer[frame] for frame in inner} == {True}
    versions = [4 if inner[frame] == "ip" else 6 for frame in segments["frame"]]
    assert segments["ip_version"].tolist() == versions
    addresses = set(segments["src_ip"].astype(str)) | set(segments["dst_ip"].astype(str))
    assert addresses == {"10.89.0.1", "10.89.0.2", "fd89::1", "fd89::2"}


def test_reserved_flag_bits_are_dropped_as_the_native_reader_drops_them(tshark: str) -> None:
    capture = CASES / "tcp_reserved_flags.pcap"
    raw = [int(flags, 16) for (flags,) in tshark_fields(tshark, capture, "tcp.flags") if flags]
    assert any(flags & ~0x1FF for flags in raw)  # the file has them
    by_tshark = hskit.load(capture, backend="tshark", progress=False).segments
    by_native = hskit.load(capture, backend="native", progress=False).segments
    assert by_tshark["flags"].tolist() == [flags & 0x1FF for flags in raw]
    pd.testing.assert_frame_equal(by_tshark, by_native)


def record_microseconds(capture: Path) -> list[tuple[int, int]]:
    """(seconds, microseconds) of each record of a little-endian microsecond pcap."""
    data, offset, records = capture.read_bytes(), 24, []
    while offset + 16 <= len(data):
        seconds, micros, caplen, _ = struct.unpack_from("<IIII", data, offset)
        records.append((seconds, micros))
        offset += 16 + caplen
    return records


def test_corrupt_sub_second_fields_load_and_match_the_native_reader_where_tshark_can(
    tshark: str,
) -> None:
    capture = CASES / "bad_timestamp_fraction.pcap"
    epochs = [epoch for (epoch,) in tshark_fields(tshark, capture, "frame.time_epoch")]
    assert any(epoch.startswith("-") and len(epoch.split(".")[1]) == 10 for epoch in epochs)
    cap = hskit.load(capture, backend="tshark", progress=False)
    native = hskit.load(capture, backend="native", progress=False).segments
    records = record_microseconds(capture)
    odd = [micros >= 10**6 for _, micros in records]
    assert any(f"{sum(odd)} frames have a sub-second timestamp field" in note
               for note in cap.load_report.notes)  # fmt: skip
    ts = cap.segments["ts"].astype("int64").to_numpy()
    expected = native["ts"].astype("int64").to_numpy()
    for row, frame in enumerate(cap.segments["frame"]):
        seconds, micros = records[frame - 1]
        # tshark multiplies the field by 1000 in 32 bits; the native reader reads it so too
        assert ts[row] == expected[row] == seconds * 10**9 + micros * 1000 % 2**32, frame
    first = records[0][0] * 10**9 + records[0][1] * 1000
    assert cap.segments["time"].tolist() == ((ts - first) / 1e9).tolist()
