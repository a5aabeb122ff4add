"""Colour-blind-safe colours for segment kinds, TCP states and connection labels.

Built on the Okabe–Ito palette (distinguishable with every common colour-vision
deficiency), with two extra tones from Paul Tol's palettes where eleven TCP states
need more than Okabe–Ito's eight, and a plain red for RST, the colour analysts expect
for a reset. Figures also label bars and arrows in text and give each segment kind its
own dash and width, so colour is never the only cue.

>>> from hskit.views import palette
>>> palette.KIND_COLORS["RST"], palette.STATE_COLORS["ESTABLISHED"]
('#CC0000', '#009E73')
"""

from __future__ import annotations

from hskit.schema import CLOSER_LABELS, HANDSHAKE_LABELS, TCP_STATES

#: The Okabe–Ito palette, plus its customary grey.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}
_WINE = "#882255"  # Paul Tol's "muted" wine
_LIGHT_GREY = "#DDDDDD"
_DARK_GREY = "#555555"
_RED = "#CC0000"  # RST: red, drawn thicker than every other kind

#: What a ladder arrow is, by its flags: the legend entries of the ladder view.
SEGMENT_KINDS: tuple[str, ...] = ("SYN", "SYN-ACK", "ACK", "data", "FIN", "RST")

KIND_COLORS: dict[str, str] = {
    "SYN": OKABE_ITO["blue"],
    "SYN-ACK": OKABE_ITO["sky_blue"],
    "ACK": OKABE_ITO["grey"],
    "data": OKABE_ITO["bluish_green"],
    "FIN": OKABE_ITO["orange"],
    "RST": _RED,
}
#: Line dash per kind: a second cue besides colour (pure ACKs dotted).
KIND_DASH: dict[str, str] = {
    "SYN": "solid",
    "SYN-ACK": "solid",
    "ACK": "dot",
    "data": "solid",
    "FIN": "dash",
    "RST": "solid",
}
#: Line width per kind (px): a reset stands out.
KIND_WIDTH: dict[str, float] = {kind: 2.6 if kind == "RST" else 1.6 for kind in SEGMENT_KINDS}

STATE_COLORS: dict[str, str] = dict(
    zip(
        TCP_STATES,
        (
            _LIGHT_GREY,  # LISTEN
            OKABE_ITO["sky_blue"],  # SYN_SENT
            OKABE_ITO["blue"],  # SYN_RECEIVED
            OKABE_ITO["bluish_green"],  # ESTABLISHED
            OKABE_ITO["orange"],  # FIN_WAIT_1
            OKABE_ITO["yellow"],  # FIN_WAIT_2
            OKABE_ITO["reddish_purple"],  # CLOSE_WAIT
            OKABE_ITO["vermillion"],  # CLOSING
            _WINE,  # LAST_ACK
            OKABE_ITO["grey"],  # TIME_WAIT
            _DARK_GREY,  # CLOSED
        ),
        strict=True,
    )
)

HANDSHAKE_COLORS: dict[str, str] = dict(
    zip(
        HANDSHAKE_LABELS,
        (
            OKABE_ITO["bluish_green"],  # complete
            OKABE_ITO["vermillion"],  # refused
            OKABE_ITO["grey"],  # no_answer
            OKABE_ITO["orange"],  # no_final_ack
            OKABE_ITO["reddish_purple"],  # reset_in_handshake
            OKABE_ITO["blue"],  # simultaneous_open
            OKABE_ITO["sky_blue"],  # midstream
        ),
        strict=True,
    )
)

#: Who closed a connection; ``none`` stands for NA (nobody closed it with a FIN).
CLOSER_COLORS: dict[str, str] = {
    **dict(
        zip(
            CLOSER_LABELS,
            (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["reddish_purple"]),
            strict=True,
        )
    ),
    "none": OKABE_ITO["grey"],
}
