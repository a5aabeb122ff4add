"""The ladder (sequence) diagram of one connection: client and server lanes, one arrow a segment.

Arrows are drawn with one line trace per segment kind (NaN-separated coordinates,
plotly's numeric ``None``, with an oriented triangle at each head) and one marker
trace per kind at the arrow midpoints carrying the label, the hover text and the
frame number (``customdata``), so a figure costs a handful of traces whatever the
connection's length, and clicks land on the midpoint markers.

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
from hskit.schema import ACK, FIN, RST, SYN
from hskit.timing import endpoint_text, vantage_label
from hskit.views.palette import KIND_COLORS, KIND_DASH, SEGMENT_KINDS

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
_ROW_PX = 26
_MAX_HEIGHT = 760
_VISIBLE_ROWS = (_MAX_HEIGHT - 160) // _ROW_PX  # rows on screen before panning
_HEAD_SIZE = 12
_CAPTION_X = -0.04  # right edge of the frame/time captions, left of the client lane


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
    rows: pd.DataFrame, numbers: Numbers = "relative", style: LabelStyle = "wireshark"
) -> pd.Series:
    """The label of each segment's arrow, as Wireshark's Info column or tcpdump prints it.

    >>> rows = pd.DataFrame({"flags": [0x12], "rel_seq": [0], "rel_ack": [1], "seq": [7],
    ...                      "ack": [9], "win": [65535], "payload_len": [0]})
    >>> arrow_labels(rows).tolist(), arrow_labels(rows, style="tcpdump").tolist()
    (['[SYN, ACK] Seq=0 Ack=1 Win=65535'], ['[S.] seq 0, ack 1, win 65535, length 0'])
    """
    if numbers not in ("relative", "absolute"):
        raise ValueError(f"numbers must be 'relative' or 'absolute', not {numbers!r}")
    seq_col, ack_col = ("rel_seq", "rel_ack") if numbers == "relative" else ("seq", "ack")
    seq = rows[seq_col].astype("string")
    ack = rows[ack_col].astype("string")
    win = rows["win"].astype("string")
    length = rows["payload_len"].astype("string")
    has_ack = (rows["flags"].to_numpy(np.int64) & ACK) != 0
    has_data = rows["payload_len"].to_numpy(np.int64) > 0
    if style == "wireshark":
        text = flags.label(rows["flags"], style="wireshark") + " Seq=" + seq
        text = text + _where(has_ack, " Ack=" + ack) + " Win=" + win
        return text + _where(has_data, " Len=" + length)
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


def _arrow_ends(
    rows: pd.DataFrame, y_rows: npt.NDArray[np.float64], spacing: Spacing, vantage: Vantage
) -> tuple[npt.NDArray[np.float64], ...]:
    """x0, y0, x1, y1 of each arrow: sender's lane at send time to receiver's at arrival."""
    c2s = rows["from_client"].to_numpy(bool)
    x0 = np.where(c2s, 0.0, 1.0)
    x1 = 1.0 - x0
    if spacing == "even":
        return x0, y_rows, x1, y_rows + EVEN_SLANT
    seen = rows["time"].to_numpy(float)
    before = np.where(c2s, vantage.client_delay, vantage.server_delay)
    after = np.where(c2s, vantage.server_delay, vantage.client_delay)
    return x0, seen - before, x1, seen + after


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


def ladder_figure(
    segments: pd.DataFrame,
    connections: pd.DataFrame,
    stream: int,
    *,
    numbers: Numbers = "relative",
    spacing: Spacing = "even",
    frames: slice | None = None,
    handshake_only: bool = False,
    label_style: LabelStyle = "wireshark",
    max_segments: int = DEFAULT_MAX_SEGMENTS,
) -> go.Figure:
    """The ladder diagram of ``stream``: client lane at x = 0, server lane at x = 1.

    ``frames`` picks the stream's segments by position (0-based, as ``iloc``:
    ``slice(0, 200)`` is the first 200); by default the first ``max_segments``.
    ``handshake_only`` shows the handshake and the teardown only (``frames`` is then
    ignored). ``spacing="even"`` gives one row per segment, ``"time"`` puts capture
    time on the y axis, downward, with each arrow slanted by the estimated one-way
    delays from the capture point (see :func:`capture_vantage`).

    >>> fig = ladder_figure(cap.segments, cap.connections, 0, spacing="time")  # doctest: +SKIP
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
    x0, y0, x1, y1 = _arrow_ends(rows, y_rows, spacing, vantage)
    kinds = segment_kinds(rows)
    labels = arrow_labels(rows, numbers, label_style).to_numpy(dtype=object)
    hovers = hover_texts(rows).to_numpy(dtype=object)
    frame_numbers = rows["frame"].to_numpy(np.int64)
    show_text = len(rows) <= TEXT_LIMIT
    # Time-scaled arrows can nearly coincide: alternate their labels above and below.
    text_at = np.full(len(rows), "top center", dtype=object)
    if spacing == "time":
        text_at[1::2] = "bottom center"

    figure = go.Figure()
    for code, kind in enumerate(SEGMENT_KINDS):
        mask = kinds == code
        if not mask.any():
            continue
        heads = np.zeros((int(mask.sum()), 3))
        heads[:, 1] = _HEAD_SIZE
        figure.add_trace(
            go.Scatter(
                x=_gapped(x0[mask], x1[mask]),
                y=_gapped(y0[mask], y1[mask]),
                mode="lines+markers",
                line={"color": KIND_COLORS[kind], "width": 1.6, "dash": KIND_DASH[kind]},
                marker={
                    "symbol": "triangle-up",
                    "angleref": "previous",
                    "size": heads.ravel(),
                    "color": KIND_COLORS[kind],
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
                y=(y0[mask] + y1[mask]) / 2,
                mode="markers+text" if show_text else "markers",
                marker={"size": 7, "color": KIND_COLORS[kind]},
                text=labels[mask],
                textposition=text_at[mask],
                textfont={"size": 10, "color": "#222222"},
                hovertext=hovers[mask],
                hovertemplate="%{hovertext}<extra></extra>",
                customdata=frame_numbers[mask],
                name=kind,
                legendgroup=kind,
                showlegend=False,
                meta={"role": "segments", "kind": kind},
            )
        )
    if spacing == "even" and len(rows):
        _add_row_captions(figure, rows, y_rows, positions)
    _layout(figure, connection, rows, y_rows, len(every_row), positions, spacing, vantage)
    return figure


def _add_row_captions(
    figure: go.Figure,
    rows: pd.DataFrame,
    y_rows: npt.NDArray[np.float64],
    positions: npt.NDArray[np.int64],
) -> None:
    """Frame number and time left of the client lane; a note where segments are skipped."""
    times = np.char.mod("%.6f", rows["time"].to_numpy(float))
    captions = np.char.add(np.char.add("#", rows["frame"].to_numpy().astype(str)), "  ")
    figure.add_trace(
        go.Scatter(
            x=np.full(len(rows), _CAPTION_X),
            y=y_rows,
            mode="text",
            text=np.char.add(captions, times),
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
                y=y_rows[gaps] + 1.0,
                mode="text",
                text=np.char.add(np.char.add("⋯ ", missing.astype(str)), " segments not shown ⋯"),
                textfont={"size": 11, "color": "#666666"},
                hoverinfo="skip",
                showlegend=False,
                meta={"role": "gaps"},
            )
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
) -> None:
    client = f"client<br>{connection['client_ip']}:{connection['client_port']}"
    server = f"server<br>{connection['server_ip']}:{connection['server_port']}"
    if not len(positions):
        shown = f"none of {total} segments selected"
    elif positions[-1] - positions[0] + 1 == len(positions):
        shown = f"segments {positions[0] + 1}–{positions[-1] + 1} of {total}"
    else:
        shown = f"{len(positions)} of {total} segments"
    title = (
        f"stream {connection['stream']} · {connection['handshake']} / "
        f"{connection['termination']} ({connection['conn_state']}) · {shown}"
    )
    rows_shown = int(y_rows[-1]) + 1 if len(rows) else 0
    if spacing == "even" and rows_shown > _VISIBLE_ROWS:
        title += " · drag the plot up to scroll"
    height = int(min(_MAX_HEIGHT, 160 + _ROW_PX * max(rows_shown, 8)))
    if spacing == "time":
        height = _MAX_HEIGHT  # time gaps, not rows, decide the spacing
    figure.update_layout(
        title={
            "text": title,
            "font": {"size": 14},
            "subtitle": {"text": vantage.text, "font": {"size": 11, "color": "#555555"}},
        },
        height=height,
        margin={"l": 20, "r": 20, "t": 120, "b": 50},
        plot_bgcolor="white",
        hovermode="closest",
        dragmode="pan",
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0},
        xaxis={
            "range": [_CAPTION_X - 0.3 if spacing == "even" else -0.05, 1.05],
            "tickvals": [0, 1],
            "ticktext": [client, server],
            "side": "top",
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
            "automargin": True,
            "ticklabeloverflow": "allow",
        },
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": lane,
                "x1": lane,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#444444", "width": 2},
            }
            for lane in (0, 1)
        ],
    )
    if spacing == "even":
        figure.update_yaxes(
            range=[min(rows_shown, _VISIBLE_ROWS) + 0.5, -1.0],
            visible=False,
        )
        return
    figure.update_yaxes(autorange="reversed", title="capture time (s)", showgrid=True)
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
