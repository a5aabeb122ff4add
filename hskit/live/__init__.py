"""Live capture: ``hskit.live(interface)`` follows handshakes, states and problems as they happen.

dumpcap (tcpdump where dumpcap is missing) runs as a child process writing a ring of
capture files (:mod:`hskit.live.recorder`); each closed file is loaded with
``hskit.load`` and the files so far are merged into one capture
(:mod:`hskit.live.merge`) and classified by ``hskit.classify``
(:mod:`hskit.live.capture`). ``stop()`` leaves the ring: ``hskit.load`` of its files
concatenated gives the same tables.

>>> live = hskit.live("lo", bpf="tcp port 8080")  # doctest: +SKIP
>>> live.view()  # doctest: +SKIP
>>> live.stop(); live.connections[["handshake", "termination"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from hskit.live.capture import LiveCapture, warm_up
from hskit.live.recorder import Recorder, RingSettings

__all__ = ["LiveCapture", "RingSettings", "live"]


def live(
    interface: str,
    bpf: str | None = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    period: int = 1,
    files: int | None = None,
    tool: str | None = None,
) -> LiveCapture:
    """Start capturing on ``interface`` (``"lo"``, ``"eth0"``, ``"any"``) and return the
    :class:`LiveCapture` that follows it.

    ``bpf`` is a capture filter (``"tcp port 443"``); ``folder`` keeps the ring (a new
    temporary folder by default, left in place by ``stop()``); ``period`` is the seconds
    per ring file, so how often the tables move; ``files`` bounds the ring (older files
    deleted; default: keep all); ``tool`` is ``"dumpcap"`` or ``"tcpdump"`` (default:
    dumpcap if installed). Raises :class:`~hskit.errors.CapturePermissionDenied` with
    what to do when this user may not capture.

    The first call in a process takes about 2 s more: it loads the compiled analysis
    passes and draws the view's figures once (:func:`hskit.live.capture.warm_up`) before
    the capture starts, so the first ring files are not held behind them.

    Call it from a thread that lives as long as the capture (a notebook's or script's
    main thread): the capture program is ended when that thread dies.

    >>> live = hskit.live("lo", bpf="tcp", period=1)  # doctest: +SKIP
    """
    if not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a whole number of seconds >= 1, not {period!r}")
    if files is not None and (not isinstance(files, int) or files < 2):
        raise ValueError(f"files must be None (keep every file) or an integer >= 2, not {files!r}")
    ring = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="hskit-live-"))
    recorder = Recorder(RingSettings(interface, bpf, ring, period=period, files=files, tool=tool))
    # before the capture starts (about 2 s the first time in a process, milliseconds
    # after): on a thread beside it, the first ring files waited for it to be loaded
    try:
        warm_up()
    except Exception as error:  # not the caller's error: the first file's load raises it
        warnings.warn(f"hskit.live could not load the compiled passes ahead: {error}",
                      RuntimeWarning, stacklevel=2)  # fmt: skip
    recorder.start()
    return LiveCapture(recorder)
