"""Typed errors and warnings: every problem with the input surfaces as one of these.

All errors derive from :class:`HskitError`, so ``except hskit.errors.HskitError``
catches anything hskit raises on purpose.

>>> import hskit
>>> try:
...     hskit.load("no-such-file.pcap")
... except hskit.errors.CaptureNotFound as error:
...     print(type(error).__name__)
CaptureNotFound
"""

from __future__ import annotations


class HskitError(Exception):
    """Base class of every error hskit raises on purpose."""


class CaptureNotFound(HskitError, FileNotFoundError):
    """The capture file does not exist."""


class NotACapture(HskitError, ValueError):
    """The file is not a pcap or pcapng capture (possibly gzip-compressed)."""


class CaptureUnreadable(HskitError, PermissionError):
    """The capture file exists but this user may not read it (the message says which)."""


class CaptureTooLarge(HskitError, ValueError):
    """A compressed capture decompresses to more than the native reader's cap.

    The cap (1 GiB unless ``HSKIT_MAX_DECOMPRESSED`` says otherwise) bounds the memory a
    small ``.gz`` file can make a load take; the message says how to raise it.
    """


class InvalidFilter(HskitError, ValueError):
    """The display filter cannot be given to tshark (the message says why)."""


class UnsupportedLinkType(HskitError, ValueError):
    """The native reader cannot decode this link type or encapsulation.

    The message names the tshark backend, which decodes everything Wireshark does.
    """


class TsharkNotFound(HskitError, RuntimeError):
    """tshark is not installed or not on PATH (the message says how to install it)."""


class TsharkFailed(HskitError, RuntimeError):
    """tshark ran but failed; the message carries its stderr."""


class SchemaError(HskitError, ValueError):
    """A table does not follow the schema of :mod:`hskit.schema`."""


class UnknownSample(HskitError, LookupError):
    """No bundled sample capture has that name (the message lists the names there are)."""


class HskitWarning(UserWarning):
    """Base class of hskit's warnings."""


class TruncatedCaptureWarning(HskitWarning):
    """The capture ends inside a record, or a record length is corrupt.

    Every whole record before that point was loaded; the message says how many bytes
    were lost and at which offset.
    """


class CorruptTimestampWarning(HskitWarning):
    """Some records' timestamps are out of range (a sub-second field of a second or more,
    an impossible pcapng ``if_tsresol``); they were read as Wireshark reads them and the
    load report says how many.
    """


class NotExactWarning(HskitWarning):
    """A live capture's long connections were not classified whole again once it ended:
    that needs more memory than the system has available (the message says how much).
    Their rows stay grown from windows of their segments (see
    :mod:`hskit.live.incremental`).
    """


class CaptureToolNotFound(HskitError, RuntimeError):
    """Neither dumpcap nor tcpdump is installed (the message says how to install them)."""


class CapturePermissionDenied(HskitError, PermissionError):
    """This user may not capture on the interface (the message says how to grant it)."""


class CaptureFailed(HskitError, RuntimeError):
    """The capture program did not start or stopped on its own; the message carries its
    stderr."""
