"""The ladder (sequence) diagram of one connection: client and server lanes, one arrow a segment.

Arrows are drawn with one line trace per segment kind (NaN-separated coordinates,
plotly's numeric ``None``, with an oriented triangle at each head) and one marker
trace per kind at the arrow midpoints carrying the label, the hover text and the
frame number (``customdata``), so a figure costs a handful of traces whatever the
connection's length. Invisible points along every arrow (the ``hits`` trace) make the
whole arrow hoverable and clickable. Segments that crossed in flight (one side sent
before the other's segment arrived, as its acknowledgment number proves) are drawn
crossing; each lane carries its endpoint's TCP state between segments (``cap.states``).

>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> ladder_figure(cap.segments, cap.connections, 0).write_html("ladder.html")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from hskit import flags
from hskit.analysis import analyze
from hskit.schema import ACK, ENDPOINTS, FIN, RST, SYN
from hskit.timing import endpoint_text, vantage_label
from hskit.views.ladder_analysis import analysed, analysis_prefixes, syn_options
from hskit.views.palette import KIND_COLORS, KIND_DASH, KIND_WIDTH, SEGMENT_KINDS, STATE_COLORS

Numbers = Literal["relative", "absolute"]
Spacing = Literal["even", "time"]
LabelStyle = Literal["wireshark", "tcpdump"]

#: Segments shown by default: the first ones of the connection.
DEFAULT_MAX_SEGMENTS = 200
#: Above this many arrows, labels move to the hover text only (drawing text is slow).
TEXT_LIMIT = 400
#: Rows an arrow descends between its lanes in even spacing.
EVEN_SLANT = 0.6
_VANTAGE_WHERE = {
    "client": "near the client",
    "server": "near the server",
    "between": "between client and server",
}
#: Labels (and captions) closer than this many pixels vertically would overlap: thinned.
LABEL_GAP_PX = 12
#: The text of a point drawn without a label: a space, not "". plotly.js removes the text
#: element of an empty label, and a later ``Plotly.react`` (the widget's redraw) never
#: puts it back, so that point would stay unlabelled in every connection shown after.
NO_LABEL = " "
#: Invisible hover/click points along the arrows, at most, and per arrow.
HIT_POINTS = 6_000
HIT_POINTS_PER_ARROW = (3, 15)
#: Tallest ladder (px) by default; longer connections pan.
LADDER_MAX_HEIGHT = 760
_ROW_PX = 26
#: Above the lanes: the title and its subtitle, then the lane names (two lines).
_MARGIN_TOP = 100
_MARGIN_BOTTOM = 50
_HEAD_SIZE = 12
#: Right edge of the frame captions (and times, in even spacing), left of the client's states.
_CAPTION_X = {"even": -0.36, "time": -0.3}
_LANE_TEXT_PAD = 0.03  # state names sit this far outside their lane
_LANE_BAND = 0.012  # half width of the coloured state band along each lane
_X_RANGE = {"even": (-0.66, 1.36), "time": (-0.42, 1.36)}


@dataclass(frozen=True)
class Vantage:
    """Where the capture was taken, estimated from the split of the handshake.

    ``client_delay`` and ``server_delay`` are the one-way delays between the capture
    point and each end (half of SYN-ACK→ACK and half of SYN→SYN-ACK); ``position`` is
    the capture point on the lane axis (0 = client, 1 = server).

    >>> capture_vantage(pd.Series({"rtt_syn_synack": 0.04, "rtt_synack_ack": 0.001})).where
    'near the client'
    """

    where: str
    client_delay: float
    server_delay: float
    position: float
    text: str


#: the overlay on analysed segments: dotted, dark, above the kind's own line.
ANALYSIS_COLOR = "#5a189a"
ANALYSIS_WIDTH = 3
ANALYSIS_DASH = "dot"


def capture_vantage(connection: pd.Series) -> Vantage:
    """Estimate the capture point of one connection row from its handshake RTTs.

    SYN→SYN-ACK is the capture point's round trip to the server, SYN-ACK→ACK its
    round trip to the client; one much longer than the other puts the capture near
    the other end. Without a complete handshake the split is unknown (no delays).

    >>> capture_vantage(pd.Series({"rtt_syn_synack": 0.001, "rtt_synack_ack": 0.03})).where
    'near the server'
    """
    to_server = float(connection["rtt_syn_synack"])
    to_client = float(connection["rtt_synack_ack"])
    label = vantage_label(to_server, to_client)
    if label == "unknown":
        return Vantage("unknown", 0.0, 0.0, 0.5, "capture point unknown (no complete handshake)")
    where = _VANTAGE_WHERE[label]
    text = (
        f"capture point {where}: SYN→SYN-ACK {to_server * 1e3:.3f} ms, "
        f"SYN-ACK→ACK {to_client * 1e3:.3f} ms"
    )
    return Vantage(where, to_client / 2, to_server / 2, to_client / (to_client + to_server), text)


def segment_kinds(segments: pd.DataFrame) -> npt.NDArray[np.int8]:
    """Index into :data:`~hskit.views.palette.SEGMENT_KINDS` of each segment.

    RST wins over everything, then SYN-ACK, SYN, FIN, data (payload), pure ACK.

    >>> rows = pd.DataFrame({"flags": [0x02, 0x12, 0x10, 0x18, 0x11, 0x14],
    ...                      "payload_len": [0, 0, 0, 5, 0, 0]})
    >>> [SEGMENT_KINDS[k] for k in segment_kinds(rows)]
    ['SYN', 'SYN-ACK', 'ACK', 'data', 'FIN', 'RST']
    """
    bits = segments["flags"].to_numpy(np.int64)
    payload = segments["payload_len"].to_numpy(np.int64)
    conditions = [
        (bits & RST) != 0,
        (bits & (SYN | ACK)) == (SYN | ACK),
        (bits & SYN) != 0,
        (bits & FIN) != 0,
        payload > 0,
    ]
    names = ("RST", "SYN-ACK", "SYN", "FIN", "data")
    choices = [SEGMENT_KINDS.index(name) for name in names]
    return np.select(conditions, choices, SEGMENT_KINDS.index("ACK")).astype(np.int8)


def stream_rows(segments: pd.DataFrame, stream: int) -> pd.DataFrame:
    """The segments of ``stream``, in capture order, with a fresh 0-based index.

    >>> from hskit.schema import empty_segments
    >>> stream_rows(empty_segments(), 0).empty
    True
    """
    return segments.loc[segments["stream"].to_numpy() == stream].reset_index(drop=True)


def handshake_teardown_positions(rows: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Positions of the handshake (first segment … one past the last SYN) and teardown.

    The teardown runs from the first FIN or RST to the end of the connection.

    >>> rows = pd.DataFrame({"flags": [0x02, 0x12, 0x10, 0x18, 0x18, 0x11, 0x11, 0x10]})
    >>> handshake_teardown_positions(rows).tolist()
    [0, 1, 2, 5, 6, 7]
    """
    bits = rows["flags"].to_numpy(np.int64)
    count = len(bits)
    syn = np.flatnonzero(bits & SYN)
    head_end = min(int(syn[-1]) + 2, count) if len(syn) else 0
    closing = np.flatnonzero(bits & (FIN | RST))
    tail_start = int(closing[0]) if len(closing) else count
    keep = np.zeros(count, dtype=bool)
    keep[:head_end] = True
    keep[tail_start:] = True
    return np.flatnonzero(keep)


def _selected_positions(
    count: int, frames: slice | None, handshake_only: bool, rows: pd.DataFrame, max_segments: int
) -> npt.NDArray[np.int64]:
    if handshake_only:
        return handshake_teardown_positions(rows)
    if frames is None:
        frames = slice(0, max_segments)
    return np.arange(count, dtype=np.int64)[frames]


def arrow_labels(
    rows: pd.DataFrame,
    numbers: Numbers = "relative",
    style: LabelStyle = "wireshark",
    prefixes: pd.Series | None = None,
) -> pd.Series:
    """The label of each segment's arrow, as Wireshark's Info column or tcpdump prints it.

    The one place ladder labels are built. ``prefixes`` (aligned with ``rows``' index;
    empty or NA for none) go in front of a label, as Wireshark's Info column puts
    ``[TCP Retransmission]`` before the flags.

    >>> rows = pd.DataFrame({"flags": [0x12], "rel_seq": [0], "rel_ack": [1], "seq": [7],
    ...                      "ack": [9], "win": [65535], "payload_len": [0]})
    >>> arrow_labels(rows).tolist(), arrow_labels(rows, style="tcpdump").tolist()
    (['[SYN, ACK] Seq=0 Ack=1 Win=65535'], ['[S.] seq 0, ack 1, win 65535, length 0'])
    >>> arrow_labels(rows, prefixes=pd.Series(["[TCP Retransmission]"])).tolist()
    ['[TCP Retransmission] [SYN, ACK] Seq=0 Ack=1 Win=65535']
    """
    text = _label_text(rows, numbers, style)
    if prefixes is None:
        return text
    prefix = prefixes.astype("string").fillna("")
    return _where(prefix.to_numpy() != "", prefix + " ") + text


def _label_text(rows: pd.DataFrame, numbers: Numbers, style: LabelStyle) -> pd.Series:
    if numbers not in ("relative", "absolute"):
        raise ValueError(f"numbers must be 'relative' or 'absolute', not {numbers!r}")
    seq_col, ack_col = ("rel_seq", "rel_ack") if numbers == "relative" else ("seq", "ack")
    seq = rows[seq_col].astype("string")
    ack = rows[ack_col].astype("string")
    # Wireshark shows the calculated window where the analysis gave it; tcpdump the field
    calculated = style == "wireshark" and "window" in rows.columns
    win = rows["window" if calculated else "win"].astype("string")
    length = rows["payload_len"].astype("string")
    has_ack = (rows["flags"].to_numpy(np.int64) & ACK) != 0
    has_data = rows["payload_len"].to_numpy(np.int64) > 0
    if style == "wireshark":
        text = flags.label(rows["flags"], style="wireshark") + " Seq=" + seq
        text = text + _where(has_ack, " Ack=" + ack) + " Win=" + win
        return text + _where(has_data, " Len=" + length) + syn_options(rows)
    if style == "tcpdump":
        end = (rows[seq_col].to_numpy(np.int64) + rows["payload_len"].to_numpy(np.int64)) % 2**32
        seq_text = seq + _where(has_data, ":" + pd.Series(end, index=rows.index).astype("string"))
        text = "[" + flags.label(rows["flags"], style="tcpdump") + "] seq " + seq_text
        return text + _where(has_ack, ", ack " + ack) + ", win " + win + ", length " + length
    raise ValueError(f"label_style must be 'wireshark' or 'tcpdump', not {style!r}")


def _where(mask: npt.NDArray[np.bool_], text: pd.Series) -> pd.Series:
    """``text`` where ``mask``, the empty string elsewhere."""
    return text.where(mask, "").fillna("")


def _option(name: str, values: pd.Series) -> pd.Series:
    return (name + values.astype("string")).fillna("")


def hover_texts(rows: pd.DataFrame) -> pd.Series:
    """Every field of each segment as multi-line hover text (frame number first).

    >>> hover_texts(cap.segments.head(1)).iloc[0].startswith("frame 1")  # doctest: +SKIP
    True
    """
    src = endpoint_text(rows["src_ip"], rows["src_port"]).astype("string")
    dst = endpoint_text(rows["dst_ip"], rows["dst_port"]).astype("string")
    direction = pd.Series(
        np.where(rows["from_client"].to_numpy(bool), "client → server", "server → client"),
        index=rows.index,
    )
    time = pd.Series(np.char.mod("%.6f", rows["time"].to_numpy(float)), index=rows.index)
    bits = rows["flags"]
    flag_hex = pd.Series(np.char.mod("0x%03x", bits.to_numpy(np.int64)), index=rows.index)
    options = (
        (
            _option("MSS=", rows["mss"])
            + " "
            + _option("WS=", rows["wscale"])
            + " "
            + _where(rows["sack_perm"].to_numpy(bool), pd.Series("SACK_PERM", index=rows.index))
            + " "
            + _option("TSval=", rows["ts_val"])
            + " "
            + _option("TSecr=", rows["ts_ecr"])
            + " "
            + _where(rows["tfo"].to_numpy(bool), pd.Series("TFO", index=rows.index))
        )
        .str.split()
        .str.join(" ")
    )
    return (
        "<b>frame "
        + rows["frame"].astype("string")
        + "</b> · "
        + time
        + " s · "
        + rows["ts"].dt.strftime("%Y-%m-%d %H:%M:%S.%f UTC").astype("string")
        + "<br>"
        + src
        + " → "
        + dst
        + " ("
        + direction
        + ")<br>flags "
        + flags.label(bits, style="wireshark")
        + " "
        + flags.label(bits, style="tcpdump")
        + " "
        + flag_hex
        + "<br>seq "
        + rows["rel_seq"].astype("string")
        + " (raw "
        + rows["seq"].astype("string")
        + ") · ack "
        + rows["rel_ack"].astype("string")
        + " (raw "
        + rows["ack"].astype("string")
        + ")<br>len "
        + rows["payload_len"].astype("string")
        + " · win "
        + rows["win"].astype("string")
        + "<br>options: "
        + options.where(options != "", "none")
    )


@dataclass(frozen=True)
class Arrows:
    """Where each segment's arrow runs: from ``(x0, y0)`` (sender's lane, when sent) to
    ``(x1, y1)`` (receiver's lane, when it arrived); y is a row or a capture time."""

    x0: npt.NDArray[np.float64]
    y0: npt.NDArray[np.float64]
    x1: npt.NDArray[np.float64]
    y1: npt.NDArray[np.float64]

    @property
    def mid_y(self) -> npt.NDArray[np.float64]:
        """Where each arrow crosses the middle of the diagram (its label's height)."""
        return (self.y0 + self.y1) / 2


def crossed_before_arrival(rows: pd.DataFrame) -> npt.NDArray[np.int64]:
    """For each segment, the position of the last peer segment sent before it arrived, or -1.

    A segment that uses sequence space (payload, SYN or FIN) crossed the peer's
    segments that left after it but do not acknowledge it yet: the peer had not
    received it when it sent them (the first peer segment whose acknowledgment covers
    it was sent after it arrived). -1 where no peer segment crossed it, or where none
    acknowledges it in ``rows``. Sequence numbers are the relative ones, unwrapped.

    >>> # simultaneous close: each FIN leaves before the other arrives
    >>> rows = pd.DataFrame({"from_client": [True, False, True, False],
    ...     "flags": [0x11, 0x11, 0x10, 0x10], "rel_seq": [1, 1, 2, 2],
    ...     "rel_ack": [1, 1, 2, 2], "payload_len": [0, 0, 0, 0]})
    >>> crossed_before_arrival(rows).tolist()
    [1, 0, -1, -1]
    """
    count = len(rows)
    crossed = np.full(count, -1, dtype=np.int64)
    if not count:
        return crossed
    bits = rows["flags"].to_numpy(np.int64)
    c2s = rows["from_client"].to_numpy(bool)
    start = rows["rel_seq"].to_numpy(np.int64)
    end = start + rows["payload_len"].to_numpy(np.int64)
    end += ((bits & SYN) != 0).astype(np.int64) + ((bits & FIN) != 0).astype(np.int64)
    acked = np.where((bits & ACK) != 0, rows["rel_ack"].to_numpy(np.int64), -1)
    for side in (True, False):
        mine = np.flatnonzero((c2s == side) & (end > start))
        peers = np.flatnonzero(c2s != side)
        if not len(mine) or not len(peers):
            continue
        covered = np.maximum.accumulate(acked[peers])  # highest ack the peer sent so far
        first_after = np.searchsorted(peers, mine, side="right")
        first_acking = np.searchsorted(covered, end[mine], side="left")
        # crossed: peer segments after this one and before the one acknowledging it
        hit = (first_acking > first_after) & (first_acking < len(peers))
        crossed[mine[hit]] = peers[first_acking[hit] - 1]
    return crossed


def arrow_geometry(
    rows: pd.DataFrame, y_rows: npt.NDArray[np.float64], spacing: Spacing, vantage: Vantage
) -> Arrows:
    """Each arrow's ends: sender's lane at send time to receiver's lane at arrival.

    ``spacing="even"``: an arrow leaves at its row and lands :data:`EVEN_SLANT` rows
    lower; ``"time"``: capture time minus / plus the one-way delays from the capture
    point. Either way an arrow lands no earlier than the departure of the last peer
    segment it crossed in flight (:func:`crossed_before_arrival`), so crossings show.
    """
    c2s = rows["from_client"].to_numpy(bool)
    x0 = np.where(c2s, 0.0, 1.0)
    x1 = 1.0 - x0
    if spacing == "even":
        y0 = y_rows
        y1 = y_rows + EVEN_SLANT
    else:
        seen = rows["time"].to_numpy(float)
        y0 = seen - np.where(c2s, vantage.client_delay, vantage.server_delay)
        y1 = seen + np.where(c2s, vantage.server_delay, vantage.client_delay)
    crossed = crossed_before_arrival(rows)
    late = np.flatnonzero(crossed >= 0)
    if len(late):
        flight = y1[late] - y0[late]
        # landing after the crossing segment left: a small slant of its own past that
        floor = y0[crossed[late]] + np.where(flight > 0, 0.25 * flight, EVEN_SLANT / 2)
        if spacing == "even":
            floor = y0[crossed[late]] + EVEN_SLANT
        y1 = y1.copy()
        y1[late] = np.maximum(y1[late], floor)
    return Arrows(x0, y0, x1, y1)


def _gapped(
    start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``start[i], end[i], NaN`` for every i, flattened: one line piece per arrow.

    NaN is the numeric ``None``: plotly breaks the line there, and the array stays a
    compact float array (sent to the browser as binary).
    """
    pieces = np.full((len(start), 3), np.nan)
    pieces[:, 0] = start
    pieces[:, 1] = end
    return pieces.ravel()


def thinned(positions: npt.NDArray[np.float64], gap: float) -> npt.NDArray[np.bool_]:
    """Which of ``positions`` keep their label so that no two kept ones are closer than ``gap``.

    A label is kept when the one just before it (in position order) is at least ``gap``
    away, so kept labels never overlap (a run of close ones keeps its first).

    >>> thinned(np.array([0.0, 5.0, 30.0, 31.0, 60.0]), 10.0).tolist()
    [True, False, True, False, True]
    """
    order = np.argsort(positions, kind="stable")
    sorted_positions = positions[order]
    keep_sorted = np.diff(sorted_positions, prepend=-np.inf) >= gap
    keep = np.empty(len(positions), dtype=bool)
    keep[order] = keep_sorted
    return keep


def ladder_figure(
    segments: pd.DataFrame,
    connections: pd.DataFrame,
    stream: int,
    *,
    states: pd.DataFrame | None = None,
    numbers: Numbers = "relative",
    spacing: Spacing = "even",
    frames: slice | None = None,
    handshake_only: bool = False,
    label_style: LabelStyle = "wireshark",
    label_prefixes: pd.Series | None = None,
    analysis: pd.DataFrame | None = None,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    selected_frame: int | None = None,
    max_height: int = LADDER_MAX_HEIGHT,
    clickable: bool = True,
) -> go.Figure:
    """The ladder diagram of ``stream``: client lane at x = 0, server lane at x = 1.

    ``frames`` picks the stream's segments by position (0-based, as ``iloc``:
    ``slice(0, 200)`` is the first 200); by default the first ``max_segments``.
    ``handshake_only`` shows the handshake and the teardown only (``frames`` is then
    ignored). ``spacing="even"`` gives one row per segment, ``"time"`` puts capture
    time on the y axis, downward, with each arrow slanted by the estimated one-way
    delays from the capture point (see :func:`capture_vantage`). With ``states``
    (``cap.states``) each lane shows its endpoint's state between segments.
    Labels carry Wireshark's analysis as its Info column does (``[TCP Retransmission]``,
    the calculated window, a SYN's options) and analysed segments get a dotted overlay
    with its legend entry; ``analysis`` (``cap.analysis``, aligned with ``segments``)
    saves analysing the stream again and adds reused ports, which need the whole capture.
    ``label_prefixes`` (a Series indexed by frame number) goes in front of labels;
    ``selected_frame`` is highlighted; ``max_height`` (px) caps the figure's height
    (evenly spaced rows past it pan). ``clickable=False`` leaves out the invisible
    points that make a whole arrow clickable (a static page has no click handler).

    >>> fig = ladder_figure(cap.segments, cap.connections, 0, states=cap.states)  # doctest: +SKIP
    >>> fig.write_html("stream0.html")  # doctest: +SKIP
    """
    if spacing not in ("even", "time"):
        raise ValueError(f"spacing must be 'even' or 'time', not {spacing!r}")
    matches = connections.loc[connections["stream"].to_numpy() == stream]
    if matches.empty:
        raise ValueError(f"no connection with stream {stream}")
    connection = matches.iloc[0]
    every_row = stream_rows(segments, stream)
    positions = _selected_positions(len(every_row), frames, handshake_only, every_row, max_segments)
    rows = every_row.iloc[positions].reset_index(drop=True)
    # Even spacing: one row per segment, plus one empty row where segments are skipped.
    skipped_before = np.diff(positions, prepend=positions[0] if len(positions) else 0) > 1
    y_rows = (np.arange(len(rows)) + np.cumsum(skipped_before)).astype(float)
    vantage = capture_vantage(connection)
    arrows = arrow_geometry(rows, y_rows, spacing, vantage)
    height = _figure_height(y_rows, spacing, max_height)
    label_at = _label_keep(arrows, spacing, height)
    flagged = _stream_analysis(segments, stream, analysis, positions)
    rows = rows.assign(window=flagged["window"].to_numpy())
    prefixes = pd.Series(analysis_prefixes(flagged).to_numpy(), index=rows.index)
    if label_style != "wireshark":  # the prefixes are Wireshark's Info column's
        prefixes = pd.Series("", index=rows.index, dtype="string")
    if label_prefixes is not None:
        given = pd.Series(label_prefixes.reindex(rows["frame"]).to_numpy(), index=rows.index)
        given = given.astype("string").fillna("")
        prefixes = (given + " " + prefixes).where(prefixes != "", given).str.strip()
    labels = arrow_labels(rows, numbers, label_style, prefixes).to_numpy(dtype=object)

    figure = go.Figure()
    _add_arrows(figure, rows, arrows, labels, label_at)
    _add_analysed(figure, arrows, analysed(flagged))
    if clickable:
        _add_hit_points(figure, rows, arrows)
    if selected_frame is not None:
        _add_selection(figure, rows, arrows, selected_frame)
    if len(rows):
        _add_row_captions(figure, rows, arrows, label_at, positions, spacing)
    lane_top, lane_bottom = _lane_extent(arrows, y_rows, spacing)
    if states is not None:
        _add_lane_states(figure, states, stream, rows, every_row, arrows, (lane_top, lane_bottom))
    _layout(figure, connection, rows, y_rows, len(every_row), positions, spacing, vantage, height)
    _add_lanes(figure, lane_top, lane_bottom)
    return figure


def _stream_analysis(
    segments: pd.DataFrame,
    stream: int,
    analysis: pd.DataFrame | None,
    positions: npt.NDArray[np.int64],
) -> pd.DataFrame:
    """The analysis of the shown segments of ``stream`` (0-based index like ``rows``)."""
    in_stream = segments["stream"].to_numpy() == stream
    shown = analyze(segments.loc[in_stream]) if analysis is None else analysis.loc[in_stream]
    return shown.iloc[positions].reset_index(drop=True)


def _add_analysed(figure: go.Figure, arrows: Arrows, mask: npt.NDArray[np.bool_]) -> None:
    """A dotted overlay, with its own legend entry, on segments Wireshark's analysis flags."""
    if not mask.any():
        return
    figure.add_trace(
        go.Scatter(
            x=_gapped(arrows.x0[mask], arrows.x1[mask]),
            y=_gapped(arrows.y0[mask], arrows.y1[mask]),
            mode="lines",
            line={"color": ANALYSIS_COLOR, "width": ANALYSIS_WIDTH, "dash": ANALYSIS_DASH},
            name=f"TCP analysis flags ({int(mask.sum())})",
            hoverinfo="skip",
            meta={"role": "analysis"},
        )
    )


def _figure_height(y_rows: npt.NDArray[np.float64], spacing: Spacing, max_height: int) -> int:
    if spacing == "time":
        return max_height  # time gaps, not rows, decide the spacing
    rows_shown = int(y_rows[-1]) + 1 if len(y_rows) else 0
    return int(min(max_height, _MARGIN_TOP + _MARGIN_BOTTOM + _ROW_PX * max(rows_shown + 1, 8)))


def _label_keep(arrows: Arrows, spacing: Spacing, height: int) -> npt.NDArray[np.bool_]:
    """Labels to draw: every one, thinned where they would overlap at the initial zoom."""
    count = len(arrows.mid_y)
    if count > TEXT_LIMIT:
        return np.zeros(count, dtype=bool)
    if spacing == "even":
        pixels = _ROW_PX
    else:
        span = float(arrows.y1.max() - arrows.y0.min()) if count else 0.0
        plot_px = height - _MARGIN_TOP - _MARGIN_BOTTOM
        pixels = plot_px / span if span > 0 else np.inf
    if not np.isfinite(pixels):
        return np.arange(count) == 0
    return thinned(arrows.mid_y, LABEL_GAP_PX / pixels)


def _add_arrows(
    figure: go.Figure,
    rows: pd.DataFrame,
    arrows: Arrows,
    labels: npt.NDArray[np.object_],
    label_at: npt.NDArray[np.bool_],
) -> None:
    """Per kind: the arrow lines with their heads, and the labelled midpoint markers."""
    kinds = segment_kinds(rows)
    hovers = hover_texts(rows).to_numpy(dtype=object)
    frame_numbers = rows["frame"].to_numpy(np.int64)
    template = np.where(label_at, "%{text}", NO_LABEL)
    for code, kind in enumerate(SEGMENT_KINDS):
        mask = kinds == code
        if not mask.any():
            continue
        heads = np.zeros((int(mask.sum()), 3))
        heads[:, 1] = _HEAD_SIZE
        color = KIND_COLORS[kind]
        figure.add_trace(
            go.Scatter(
                x=_gapped(arrows.x0[mask], arrows.x1[mask]),
                y=_gapped(arrows.y0[mask], arrows.y1[mask]),
                mode="lines+markers",
                line={"color": color, "width": KIND_WIDTH[kind], "dash": KIND_DASH[kind]},
                marker={
                    "symbol": "triangle-up",
                    "angleref": "previous",
                    "size": heads.ravel(),
                    "color": color,
                },
                name=f"{kind} ({int(mask.sum())})",
                legendgroup=kind,
                hoverinfo="skip",
                meta={"role": "arrows", "kind": kind},
            )
        )
        figure.add_trace(
            go.Scatter(
                x=np.full(int(mask.sum()), 0.5),
                y=arrows.mid_y[mask],
                mode="markers+text",
                marker={"size": 7, "color": color},
                text=labels[mask],
                texttemplate=template[mask],
                textposition="top center",
                textfont={"size": 10, "color": "#CC0000" if kind == "RST" else "#222222"},
                hovertext=hovers[mask],
                hovertemplate="%{hovertext}<extra></extra>",
                customdata=frame_numbers[mask],
                name=kind,
                legendgroup=kind,
                showlegend=False,
                meta={"role": "segments", "kind": kind},
            )
        )


def _add_hit_points(figure: go.Figure, rows: pd.DataFrame, arrows: Arrows) -> None:
    """Invisible points along every arrow: clicking anywhere on it finds its segment.

    They carry the frame numbers only (the hover text sits on the midpoint marker), so
    they cost a few bytes each.
    """
    count = len(rows)
    if not count:
        return
    low, high = HIT_POINTS_PER_ARROW
    per_arrow = int(np.clip(HIT_POINTS // count, low, high))
    along = np.linspace(0.08, 0.92, per_arrow)
    x = arrows.x0[:, None] + along[None, :] * (arrows.x1 - arrows.x0)[:, None]
    y = arrows.y0[:, None] + along[None, :] * (arrows.y1 - arrows.y0)[:, None]
    figure.add_trace(
        go.Scatter(
            x=x.ravel(),
            y=y.ravel(),
            mode="markers",
            marker={"size": 10, "opacity": 0, "color": "#000000"},
            hoverinfo="none",  # hover and click events, no label: the midpoint has the text
            customdata=np.repeat(rows["frame"].to_numpy(np.int64), per_arrow),
            showlegend=False,
            name="arrows",
            meta={"role": "hits"},
        )
    )


def _add_selection(figure: go.Figure, rows: pd.DataFrame, arrows: Arrows, frame: int) -> None:
    """A wide translucent band along the chosen arrow."""
    chosen = np.flatnonzero(rows["frame"].to_numpy(np.int64) == frame)
    if not len(chosen):
        return
    at = int(chosen[0])
    kind = SEGMENT_KINDS[int(segment_kinds(rows.iloc[[at]])[0])]
    figure.add_trace(
        go.Scatter(
            x=[arrows.x0[at], arrows.x1[at]],
            y=[arrows.y0[at], arrows.y1[at]],
            mode="lines",
            line={"color": KIND_COLORS[kind], "width": 9},
            opacity=0.35,
            hoverinfo="skip",
            showlegend=False,
            name=f"frame {frame}",
            customdata=[frame, frame],
            meta={"role": "selected", "frame": frame},
        )
    )


def _add_row_captions(
    figure: go.Figure,
    rows: pd.DataFrame,
    arrows: Arrows,
    label_at: npt.NDArray[np.bool_],
    positions: npt.NDArray[np.int64],
    spacing: Spacing,
) -> None:
    """Frame number (and time, in even spacing: the y axis shows it otherwise) left of
    the client lane, beside each drawn label; a note where segments are skipped."""
    captions = np.char.add("#", rows["frame"].to_numpy().astype(str))
    if spacing == "even":
        times = np.char.mod("%.6f", rows["time"].to_numpy(float))
        captions = np.char.add(np.char.add(captions, "  "), times)
    figure.add_trace(
        go.Scatter(
            x=np.full(int(label_at.sum()), _CAPTION_X[spacing]),
            y=arrows.mid_y[label_at],
            mode="text",
            text=captions[label_at],
            textposition="middle left",
            textfont={"size": 9, "color": "#666666"},
            hoverinfo="skip",
            showlegend=False,
            meta={"role": "captions"},
        )
    )
    gaps = np.flatnonzero(np.diff(positions) > 1)
    if len(gaps):
        missing = np.diff(positions)[gaps] - 1
        figure.add_trace(
            go.Scatter(
                x=np.full(len(gaps), 0.5),
                y=(arrows.y1[gaps] + arrows.y0[gaps + 1]) / 2,
                mode="text",
                text=np.char.add(np.char.add("⋯ ", missing.astype(str)), " segments not shown ⋯"),
                textfont={"size": 11, "color": "#666666"},
                hoverinfo="skip",
                showlegend=False,
                meta={"role": "gaps"},
            )
        )


def _lane_extent(
    arrows: Arrows, y_rows: npt.NDArray[np.float64], spacing: Spacing
) -> tuple[float, float]:
    """Where the lanes start and end on the y axis: a little before and after the arrows."""
    if not len(y_rows):
        return -0.5, 1.0
    if spacing == "even":
        return -0.6, float(max(arrows.y1.max(), y_rows[-1])) + 1.4
    top, bottom = float(arrows.y0.min()), float(arrows.y1.max())
    pad = max(0.04 * (bottom - top), 1e-6)
    return top - pad, bottom + pad


def lane_states(
    states: pd.DataFrame,
    stream: int,
    rows: pd.DataFrame,
    every_row: pd.DataFrame,
    arrows: Arrows,
    extent: tuple[float, float],
) -> pd.DataFrame:
    """Where each endpoint's state intervals start on its lane, for the drawn segments.

    A state caused by a drawn segment starts where that segment leaves the endpoint
    (it sent it) or arrives (it received it). A state that began before the drawn
    segments starts at the top; a timer's state (CLOSED after TIME_WAIT) at the bottom
    when the connection's last segment is drawn; other states outside the drawn range
    are left out. Columns: ``endpoint, state, start, cause_frame, y``, in time order.
    """
    own = states.loc[states["stream"].to_numpy() == stream].reset_index(drop=True)
    top, bottom = extent
    y = np.full(len(own), np.nan)
    if len(own) and len(rows):
        cause = own["cause_frame"].astype("Float64").to_numpy(float, na_value=np.nan)
        at = pd.Index(rows["frame"].to_numpy(np.int64)).get_indexer(
            np.nan_to_num(cause, nan=-1).astype(np.int64)
        )
        drawn = at >= 0
        sender_is_client = rows["from_client"].to_numpy(bool)[at[drawn]]
        is_client = own["endpoint"].to_numpy().astype(str)[drawn] == ENDPOINTS[0]
        y[drawn] = np.where(
            sender_is_client == is_client, arrows.y0[at[drawn]], arrows.y1[at[drawn]]
        )
        first_frame = int(rows["frame"].iloc[0])
        last_drawn = int(rows["frame"].iloc[-1]) == int(every_row["frame"].iloc[-1])
        before = np.isfinite(cause) & (cause < first_frame) & ~drawn
        timer = ~np.isfinite(cause)
        opening = timer & ~own.duplicated("endpoint").to_numpy()
        y[before | opening] = top
        y[timer & ~opening & last_drawn] = bottom - 0.6 * (bottom - float(arrows.y1.max()))
    marks = own.assign(y=y)
    marks = marks.loc[np.isfinite(y)]
    # Only the last state that began before the drawn range is still in force at its top.
    at_top = marks["y"].to_numpy() == top
    latest_top = ~marks.loc[at_top].duplicated("endpoint", keep="last")
    keep = ~at_top
    keep[np.flatnonzero(at_top)[latest_top.to_numpy()]] = True
    return marks.loc[keep, ["endpoint", "state", "start", "cause_frame", "y"]].reset_index(
        drop=True
    )


def _add_lane_states(
    figure: go.Figure,
    states: pd.DataFrame,
    stream: int,
    rows: pd.DataFrame,
    every_row: pd.DataFrame,
    arrows: Arrows,
    extent: tuple[float, float],
) -> None:
    """Each lane as a band coloured by its endpoint's state, the state's name beside it."""
    marks = lane_states(states, stream, rows, every_row, arrows, extent)
    shapes: list[dict[str, object]] = []
    span = extent[1] - extent[0]
    for endpoint, lane, side in ((ENDPOINTS[0], 0.0, -1), (ENDPOINTS[1], 1.0, 1)):
        own = marks.loc[marks["endpoint"].to_numpy().astype(str) == endpoint]
        if own.empty:
            continue
        names = own["state"].to_numpy().astype(str)
        y = own["y"].to_numpy(float)
        ends = np.append(y[1:], extent[1])
        for name, start, end in zip(names, y, ends, strict=True):
            shapes.append(
                dict(
                    type="rect",
                    x0=lane - _LANE_BAND,
                    x1=lane + _LANE_BAND,
                    y0=start,
                    y1=end,
                    line={"width": 0},
                    fillcolor=STATE_COLORS[name],
                    layer="below",
                    name=f"{endpoint} {name}",
                )
            )
        # States entered at (nearly) the same place share one label: "FIN_WAIT_2 → TIME_WAIT".
        group = np.cumsum(np.diff(y, prepend=-np.inf) > span * 0.02)
        joined = pd.Series(names).groupby(group).transform(" → ".join).to_numpy()
        first = np.diff(group, prepend=-1) > 0
        text = np.where(first, joined, NO_LABEL)
        starts = own["start"].to_numpy(float)
        causes = own["cause_frame"].astype("string").fillna("timer").to_numpy().astype(str)
        figure.add_trace(
            go.Scatter(
                x=np.full(len(own), lane + side * _LANE_TEXT_PAD),
                y=y,
                mode="text",
                text=text,
                textposition="bottom left" if side < 0 else "bottom right",
                textfont={"size": 9, "color": "#333333"},
                customdata=names,
                hovertext=[
                    f"{endpoint}: <b>{name}</b> from {start:.6f} s (cause: frame {cause})"
                    for name, start, cause in zip(names, starts, causes, strict=True)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
                showlegend=False,
                name=f"{endpoint} states",
                meta={"role": "lane_states", "endpoint": endpoint},
            )
        )
    # Assigned, not update_layout(shapes=...): an update merges a list into the shapes
    # already there element by element. One validation, not one a band.
    figure.layout.shapes = [*figure.layout.shapes, *shapes]


def _add_lanes(figure: go.Figure, top: float, bottom: float) -> None:
    """The two lanes: thin dark lines under the state bands."""
    lanes = [
        {"type": "line", "x0": lane, "x1": lane, "y0": top, "y1": bottom,
         "line": {"color": "#444444", "width": 1.5}, "layer": "below"}
        for lane in (0.0, 1.0)
    ]  # fmt: skip
    figure.layout.shapes = [*lanes, *figure.layout.shapes]


def _title(connection: pd.Series, total: int, positions: npt.NDArray[np.int64]) -> str:
    if not len(positions):
        shown = f"none of {total} segments selected"
    elif positions[-1] - positions[0] + 1 == len(positions):
        shown = f"segments {positions[0] + 1}–{positions[-1] + 1} of {total}"
    else:
        shown = f"{len(positions)} of {total} segments"
    return (
        f"stream {connection['stream']} · {connection['handshake']} / "
        f"{connection['termination']} ({connection['conn_state']}) · {shown}"
    )


def _layout(
    figure: go.Figure,
    connection: pd.Series,
    rows: pd.DataFrame,
    y_rows: npt.NDArray[np.float64],
    total: int,
    positions: npt.NDArray[np.int64],
    spacing: Spacing,
    vantage: Vantage,
    height: int,
) -> None:
    client = endpoint_text(
        pd.Series([connection["client_ip"]]), pd.Series([connection["client_port"]])
    ).iloc[0]
    server = endpoint_text(
        pd.Series([connection["server_ip"]]), pd.Series([connection["server_port"]])
    ).iloc[0]
    title = _title(connection, total, positions)
    rows_shown = int(y_rows[-1]) + 1 if len(rows) else 0
    visible_rows = (height - _MARGIN_TOP - _MARGIN_BOTTOM) // _ROW_PX
    if spacing == "even" and rows_shown > visible_rows:
        title += " · drag the plot up to scroll"
    figure.update_layout(
        title={
            "text": title,
            "font": {"size": 14},
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 6},
            "subtitle": {"text": vantage.text, "font": {"size": 11, "color": "#555555"}},
        },
        height=height,
        margin={"l": 20, "r": 20, "t": _MARGIN_TOP, "b": _MARGIN_BOTTOM},
        plot_bgcolor="white",
        hovermode="closest",
        hoverdistance=12,
        dragmode="pan",
        modebar={"orientation": "v"},
        uirevision=f"{connection['stream']}-{spacing}-{positions[:1]}-{len(positions)}",
        legend={"orientation": "h", "y": -0.01, "yanchor": "top", "x": 0},
        xaxis={
            "range": list(_X_RANGE[spacing]),
            "tickvals": [0, 1],
            "ticktext": [f"<b>client</b><br>{client}", f"<b>server</b><br>{server}"],
            "side": "top",
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
            "automargin": True,
            "ticklabeloverflow": "allow",
        },
    )
    if spacing == "even":
        figure.update_yaxes(
            range=[min(rows_shown + 0.9, visible_rows - 0.5), -1.0],
            visible=False,
        )
        return
    figure.update_yaxes(
        autorange="reversed", title="capture time (s)", showgrid=True, gridcolor="#EEEEEE"
    )
    if vantage.where != "unknown":
        figure.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=vantage.position,
            x1=vantage.position,
            y0=0,
            y1=1,
            line={"color": "#999999", "width": 1, "dash": "dashdot"},
        )
        figure.add_annotation(
            x=vantage.position,
            y=0,
            xref="x",
            yref="paper",
            yanchor="top",
            text="capture point",
            showarrow=False,
            font={"size": 10, "color": "#777777"},
        )
