"""``LiveCapture``: the tables of a capture that is still running, as of its last ring file.

A background thread loads each ring file as the recorder closes it (``hskit.load``); the
tables are those of the files loaded so far merged into one capture and classified by
``hskit.classify``, computed when asked for and kept until the next file arrives. Each
new file is appended (:class:`hskit.live.merge.Merger`) and only the streams it touches
are classified again (:class:`hskit.live.incremental.Classified`; a long open connection
from a bounded window of its rows until the capture has ended), so a snapshot costs
what the new files hold, not the whole capture (with ``files=N``, once the ring drops
its oldest file, everything kept is merged and classified again). Nothing here waits on the capture
program, so a notebook's event loop never blocks.

>>> live = hskit.live("lo", bpf="tcp port 8080")  # doctest: +SKIP
>>> live.wait(files=2); live.connections[["stream", "handshake", "client_state"]]  # doctest: +SKIP
>>> live.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hskit.capture import Capture, LoadReport
from hskit.classify.synthetic import Conversation
from hskit.classify.synthetic import segments as synthetic_segments
from hskit.diagnose import Thresholds, diagnose_evidence, empty_findings, finding_steps
from hskit.diagnose.evidence import Evidence, Steps, finished
from hskit.errors import HskitError
from hskit.live.current import CurrentStates
from hskit.live.evidence import KeptEvidence
from hskit.live.incremental import Classified, ClassifiedCapture
from hskit.live.merge import Merger
from hskit.loader import load
from hskit.wording import counted

if TYPE_CHECKING:
    from hskit.live.recorder import Recorder
    from hskit.live.view import LiveView

#: how long stop() waits for the last ring file to be loaded.
FINAL_LOAD_TIMEOUT = 60.0
#: ring files between two runs of the findings by the view and ``hskit watch``: every
#: file (the findings' evidence costs what each new file holds, as the tables do). The
#: view runs them on a thread of their own, so its tables never wait.
FINDINGS_EVERY = 1


#: the longest a caller's wait blocks in one piece: a Ctrl-C (SIGINT) that reaches
#: another thread, or arrives just before the wait blocks, is acted on within this.
INTERRUPT_CHECK = 0.2


def _wait_for(
    condition: threading.Condition, predicate: Callable[[], bool], timeout: float | None
) -> bool:
    """``condition.wait_for(predicate, timeout)`` (the condition held), blocking at most
    :data:`INTERRUPT_CHECK` at a time so a pending KeyboardInterrupt is raised soon.

    ``Condition.wait`` without a timeout blocks in one lock acquisition, which a signal
    wakes only if the kernel delivers it to the waiting thread during the wait; a
    notebook's interrupt could otherwise leave the cell blocked forever.

    >>> done = threading.Condition()
    >>> with done:
    ...     _wait_for(done, lambda: False, 0.05)
    False
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while not predicate():
        left = INTERRUPT_CHECK if deadline is None else deadline - time.monotonic()
        if left <= 0:
            return False
        condition.wait(min(left, INTERRUPT_CHECK))
    return True


@dataclass(frozen=True)
class RingFile:
    """A closed ring file, when the capture program said it was closed, and when hskit
    began and finished loading it (``time.monotonic()`` seconds; the loader takes one
    file at a time, so a file can wait for the one before it).

    >>> RingFile(Path("ring_00001.pcapng"), 1.0, 1.4, load_started_at=1.1).loaded_at
    1.4
    """

    path: Path
    closed_at: float
    loaded_at: float
    load_started_at: float


@dataclass(frozen=True)
class Snapshot:
    """The tables as of a number of ring files closed so far, and when they were ready."""

    files: int
    capture: Capture
    connections: pd.DataFrame
    ready_at: float
    #: when the newest ring file in it was closed (None before the first).
    newest_closed_at: float | None
    #: the capture had ended (every connection classified whole but where ``exact`` is
    #: False).
    final: bool = False
    #: how many times the tables were merged and classified again from the first part
    #: (the ring dropped a file): a snapshot's segments grow those of the one before
    #: only within one generation.
    generation: int = 0
    #: no long connection's row is grown from a window (see :mod:`hskit.live.
    #: incremental`): False while the capture runs, if it has one, and once it has ended
    #: if classifying it whole needed more memory than was available (a
    #: ``NotExactWarning`` said how much).
    exact: bool = True


class LiveCapture:
    """A running capture: ``segments``, ``connections``, ``states`` and ``diagnose()`` of
    everything captured so far, and ``stop()``. Made by :func:`hskit.live`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.folder = recorder.settings.folder
        #: the loaded ring files' tables not merged yet; with ``files=N``, the last N
        #: (merged again from the first when the ring drops one).
        self._parts: list[Capture] = []
        self._files: list[RingFile] = []
        self._files_seen = 0
        #: ring files loaded or failed to load since the start (in the order they closed).
        self._files_done = 0
        #: TCP segments in every ring file loaded since the start.
        self.segments_seen = 0
        self.load_errors: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        #: with ``files=N``, the parts merged and classified so far (guarded by the
        #: snapshot lock).
        self._merged: list[Capture] = []
        self._merger = Merger(name=str(self.folder))
        self._classified = Classified()
        #: the endpoints' current states, kept as the classifier replaces streams.
        self._current = CurrentStates()
        self._generation = 0
        #: called with the count of long connections before they are classified whole.
        self._last_pass_hooks: list[Callable[[int], None]] = []
        #: the findings' evidence of the tables' segments, kept from file to file, and
        #: the generation of the snapshots it follows (guarded by the findings lock).
        self._evidence = KeptEvidence()
        self._evidence_generation = 0
        #: the last findings: (table, ring files they cover, of a final snapshot).
        self._findings: tuple[pd.DataFrame, int, bool] | None = None
        self._findings_lock = threading.Lock()
        #: the findings thread's next job (every, callback), and the signal for it.
        self._findings_job: tuple[int, Callable[[pd.DataFrame, int], None]] | None = None
        self._findings_wanted = threading.Condition()
        self._findings_worker: threading.Thread | None = None
        self._loader = threading.Thread(target=self._load_ring, name="hskit-live-load", daemon=True)
        self._loader.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<hskit.LiveCapture {self.recorder.settings.interface!r} ({state}): "
            f"{counted(len(self._files), 'ring file')} in {str(self.folder)!r}>"
        )

    # ------------------------------------------------------------------ loading
    def _load_ring(self) -> None:
        for path in self.recorder.closed_files():
            started = time.monotonic()
            closed_at = self.recorder.closed_at.pop(path, started)
            try:
                part = load(path, progress=False)
            except HskitError as error:  # a file the program wrote badly: say so, go on
                with self._changed:
                    self.load_errors.append(f"{path}: {error}")
                    self._files_done += 1
                    self._changed.notify_all()
                continue
            with self._changed:
                self._parts.append(part)
                self._files.append(
                    RingFile(path, closed_at, time.monotonic(), load_started_at=started)
                )
                kept = self.recorder.settings.files
                if kept is not None:  # the ring's size: older files are gone from disk too
                    del self._parts[:-kept], self._files[:-kept]
                self._files_seen += 1
                self._files_done += 1
                self.segments_seen += len(part.segments)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait(
        self, files: int = 1, timeout: float | None = None, *, since: int | None = None
    ) -> bool:
        """Wait until ``files`` ring files that close after this call are loaded (or
        failed to load), or the capture ended; True if they were. With ``since`` (a count
        of :attr:`files_seen`), wait instead until ``files`` more than ``since`` are loaded.
        Blocks the caller: in a notebook prefer ``live.view()``.

        Files that closed before the call but still wait to be loaded (the first file
        waits for the compiled reader) do not count: after traffic, ``wait(files=1)``
        returns once the file that was being written, which holds it, is in the tables.

        >>> live.wait(files=1, timeout=5)  # doctest: +SKIP
        True
        >>> drawn = live.snapshot().files  # doctest: +SKIP
        >>> live.wait(since=drawn, timeout=5)  # a file newer than those drawn  # doctest: +SKIP
        True
        """
        with self._changed:
            if since is None:
                goal = self.recorder.files_closed + files
                _wait_for(self._changed, lambda: self._files_done >= goal or self._ended, timeout)
                return self._files_done >= goal
            goal = since + files
            _wait_for(self._changed, lambda: self._files_seen >= goal or self._ended, timeout)
            return self._files_seen >= goal

    # ------------------------------------------------------------------ tables
    @property
    def ring_files(self) -> list[Path]:
        """The closed ring files loaded so far, in order (with ``files=N``, the last N:
        the tables cover what the ring on disk holds)."""
        with self._changed:
            return [ring.path for ring in self._files]

    @property
    def files(self) -> list[RingFile]:
        """The closed ring files kept so far with when they closed and were loaded."""
        with self._changed:
            return list(self._files)

    @property
    def files_seen(self) -> int:
        """How many ring files have closed and been loaded since the start."""
        with self._changed:
            return self._files_seen

    def snapshot(self) -> Snapshot:
        """The tables of every ring file loaded so far (computed once per new file)."""
        with self._snapshot_lock:
            with self._changed:
                parts, seen, ended = list(self._parts), self._files_seen, self._ended
                newest = self._files[-1].closed_at if self._files else None
            last = self._snapshot
            if last is None or last.files != seen or (ended and not last.final):
                capture = self._appended(parts, final=ended)
                connections = self._current.connections(capture.connections)
                self._snapshot = Snapshot(
                    seen,
                    capture,
                    connections,
                    time.monotonic(),
                    newest,
                    final=ended,
                    generation=self._generation,
                    exact=not self._classified.followed,
                )
            return self._snapshot

    def _appended(self, parts: list[Capture], *, final: bool) -> Capture:
        """``parts`` merged and classified, appending what is new since the last call
        (everything again when the ring dropped a part merged before), and the current
        states taken in; ``final``: the followed long connections classified whole too.

        With a ring that keeps every file (``files=None``) nothing is ever merged again,
        so a part is let go once merged (the merger holds its rows): ``parts`` are then
        only those not merged yet, and the segments are not held twice."""
        keeps_all = self.recorder.settings.files is None
        merged = self._merged
        grown = keeps_all or (
            len(parts) >= len(merged) and all(a is b for a, b in zip(parts, merged, strict=False))
        )
        if not grown:
            self._merger, self._classified, merged = Merger(name=str(self.folder)), Classified(), []
            self._generation += 1
        first = self._merger.parts == 0
        new = parts if keeps_all else parts[len(merged) :]
        touched = [self._merger.add(part)[2] for part in new]
        streams = np.unique(np.concatenate([np.zeros(0, np.int64), *touched]))
        tables = self._classified.update(self._merger.segments, None if first else streams)
        self._current.update(tables[1], self._classified.replaced, self._classified.end)
        if final:
            for hook in self._last_pass_hooks if self._classified.followed else ():
                hook(len(self._classified.followed))
            tables = self._classified.exact(self._merger.segments)
            self._current.update(tables[1], self._classified.replaced, self._classified.end)
        if keeps_all:
            with self._changed:  # the loader only appends to the list meanwhile
                del self._parts[: len(new)]
        else:
            self._merged = list(parts)
        return ClassifiedCapture(self._merger.segments, self._merger.report, tables)

    @property
    def capture(self) -> Capture:
        """Everything captured so far as a :class:`~hskit.capture.Capture` (ladder,
        timeline, explore as for a loaded file)."""
        return self.snapshot().capture

    @property
    def segments(self) -> pd.DataFrame:
        """One row per TCP segment captured so far (the ``segments`` schema)."""
        return self.capture.segments

    @property
    def connections(self) -> pd.DataFrame:
        """One row per connection so far; open ones have ``termination == "open"``, and
        ``client_state``/``server_state`` say where each endpoint is now."""
        return self.snapshot().connections

    @property
    def states(self) -> pd.DataFrame:
        """Endpoint state intervals so far (the ``states`` schema)."""
        return self.capture.states

    def diagnose(self, **overrides: Any) -> pd.DataFrame:
        """Findings so far, as ``Capture.diagnose`` (``overrides`` are thresholds), from
        the evidence kept from file to file (:class:`hskit.live.evidence.KeptEvidence`).

        >>> live.diagnose(stall_time=5.0)  # doctest: +SKIP
        """
        snapshot = self.snapshot()
        with self._findings_lock:
            evidence = self._evidence_of(snapshot)
        return diagnose_evidence(evidence, snapshot.capture.connections, snapshot.capture.states,
                                 **overrides)  # fmt: skip

    def findings(
        self, every: int = 1, *, between_steps: Callable[[], None] | None = None
    ) -> tuple[pd.DataFrame, int]:
        """``(diagnose(), ring files it covers)``, run again only once ``every`` more ring
        files are loaded (at each of the first ``every`` files), or when the capture has
        ended. The segments' evidence is kept from file to file and computed again only
        for the streams the new files touched (:class:`hskit.live.evidence.KeptEvidence`),
        so the findings cost what the new files hold and the finders' pass over the
        connections. Blocks while they run (the tables do not wait for them:
        :meth:`findings_later` runs them on a thread of their own); ``between_steps`` is
        called between the steps (the evidence, then each finder:
        :func:`hskit.diagnose.finding_steps`), e.g. to time them.

        >>> findings, files = live.findings(every=5)  # doctest: +SKIP
        """
        snapshot = self.snapshot()
        with self._findings_lock:
            cached = self._findings
            stale = cached is None or cached[1] < every or snapshot.files - cached[1] >= every
            if stale or (snapshot.final and not cached[2]):
                cached = self._findings = (
                    finished(self._diagnosis_of(snapshot), between_steps),
                    snapshot.files,
                    snapshot.final,
                )
            return cached[0], cached[1]

    def _diagnosis_of(self, snapshot: Snapshot) -> Steps[pd.DataFrame]:
        """The findings of ``snapshot`` in steps: its evidence, kept from file to file,
        then :func:`hskit.diagnose.finding_steps` (the findings lock held)."""
        evidence = self._evidence_of(snapshot)
        yield
        capture = snapshot.capture
        if capture.connections.empty:
            return empty_findings()
        return (
            yield from finding_steps(evidence, capture.connections, capture.states, Thresholds())
        )

    def _evidence_of(self, snapshot: Snapshot) -> Evidence:
        """The evidence of ``snapshot``'s segments, grown from the kept one (the followed
        long connections computed whole once the capture has ended; the findings lock
        held)."""
        if snapshot.generation != self._evidence_generation:
            self._evidence, self._evidence_generation = KeptEvidence(), snapshot.generation
        segments = snapshot.capture.segments
        if snapshot.final:
            return self._evidence.exact(segments)
        return self._evidence.update(segments)

    @property
    def latest_findings(self) -> tuple[pd.DataFrame, int] | None:
        """The findings last run and the ring files they cover (None before the first),
        without waiting for them.

        >>> live.latest_findings  # doctest: +SKIP
        """
        with self._findings_lock:
            return None if self._findings is None else self._findings[:2]

    def findings_later(self, every: int, done: Callable[[pd.DataFrame, int], None]) -> None:
        """Run :meth:`findings` (``every``) on the findings thread and call ``done`` with
        its answer there; returns at once. A job asked for while one runs replaces any
        job still waiting. The findings run straight through, on the newest snapshot of
        the tables (made by the view's thread, or else by this one).

        >>> live.findings_later(5, lambda findings, files: print(files))  # doctest: +SKIP
        """
        with self._findings_wanted:
            self._findings_job = (every, done)
            self._findings_wanted.notify()
            if self._findings_worker is None or not self._findings_worker.is_alive():
                self._findings_worker = threading.Thread(
                    target=self._run_findings, name="hskit-live-findings", daemon=True
                )
                self._findings_worker.start()

    def _run_findings(self) -> None:
        """The findings thread: run each job; end once the capture has ended and no job
        waits."""
        while True:
            with self._findings_wanted:
                while self._findings_job is None:
                    if self._ended:  # a job asked for later starts the thread again
                        self._findings_worker = None
                        return
                    self._findings_wanted.wait(1.0)
                every, done = self._findings_job
                self._findings_job = None
            done(*self.findings(every))

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        return self.recorder.running

    def stop(self) -> None:
        """End the capture; the ring files stay in :attr:`folder` (``hskit.load`` them).

        Waits until the last ring file is loaded, so the tables are complete.
        """
        self.recorder.stop()
        self._loader.join(FINAL_LOAD_TIMEOUT)

    def before_last_pass(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(long_connections)`` once the capture has ended, just before its
        long connections (followed from windows while it ran) are classified whole, on
        the thread that runs that pass; not called where there are none.

        >>> live.before_last_pass(lambda count: print(count, "to classify"))  # doctest: +SKIP
        """
        self._last_pass_hooks.append(hook)

    @property
    def loaded_all(self) -> bool:
        """The capture has ended and its last ring file is loaded (or failed to load): the
        next snapshot is the final one."""
        with self._changed:
            return self._ended

    @property
    def classifying_whole(self) -> int:
        """How many long connections, followed from windows while the capture ran, the
        first snapshot after it has ended still has to classify whole (0 once it has):
        that last pass takes seconds per million of their segments, and the view and
        ``hskit watch`` say so while it runs.

        >>> live.stop(); live.classifying_whole  # doctest: +SKIP
        1
        """
        last = self._snapshot
        return 0 if last is not None and last.final else len(self._classified.followed)

    @property
    def drops(self) -> int | None:
        """Frames the capture program reported dropped (known once stopped)."""
        return self.recorder.counts()[1]

    def view(self, refresh: float = 0.5) -> LiveView:
        """A widget that follows the capture: states now, new connections per second by
        handshake outcome, handshake RTT percentiles, findings, latest connections. It
        redraws as soon as a ring file is loaded, at most once per ``refresh`` seconds."""
        from hskit.live.view import LiveView

        return LiveView(self, refresh=refresh)


def warm_up() -> None:
    """Classify a hand-built connection once and draw the live view's figures of it, so
    the first ring file does not pay for what a process's first ``hskit.classify`` and
    first plotly figure do once (importing and loading the compiled analysis passes,
    plotly's figure machinery: seconds on a loaded machine). :func:`hskit.live` runs it
    before it starts the capture program (on a thread beside it, the first ring files
    waited for it: a lag of up to 2.6 periods at the first file).

    >>> warm_up()
    """
    # plotly loads here, when a live capture starts, not on `import hskit`
    from hskit.live.figures import new_connections_figure, rtt_percentiles_figure, states_now_figure

    talk = Conversation().client("S").server("S.").client(".").client("P.", data=10)
    segments = synthetic_segments(talk.server(".").client("F.").server("F.").client("."))
    report = LoadReport("warm-up", "synthetic", len(segments), len(segments))
    connections = _with_current_states(Capture(segments, report))
    for figure in (states_now_figure, new_connections_figure, rtt_percentiles_figure):
        figure(connections).to_json(validate=False)


def _with_current_states(capture: Capture) -> pd.DataFrame:
    """The connections table with ``client_state``/``server_state`` at the last segment
    (:class:`hskit.live.current.CurrentStates` of the whole capture; a live capture
    keeps one from file to file instead).

    >>> _with_current_states(cap)[["stream", "client_state", "server_state"]]  # doctest: +SKIP
    """
    current = CurrentStates()
    now = float(capture.segments["time"].max()) if len(capture.segments) else 0.0
    current.update(capture.states, None, now)
    return current.connections(capture.connections)
