"""The site's one visual language: the same colour for the same thing on every picture.

The colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), chosen to stay apart for readers
with the common forms of colour blindness. Queries, keys and values keep their colour everywhere, including the
hand-drawn architecture diagram (``docs/diagrams/transformer.svg``); heads take the four remaining colours in order. A
head colour never marks a query, key or value, and the reverse.

The pictures take their text, line and background colours from matplotlib's ``rcParams``, so that the same drawing code
serves a light and a dark rendering; the fills below are drawn half transparent (``FILL_ALPHA``) so that they read on
either background with the text colour on top of them.
"""

from __future__ import annotations

import matplotlib as mpl

QUERY = "#0072B2"  # blue
KEY = "#D55E00"  # vermillion
VALUE = "#009E73"  # bluish green
# orange, reddish purple, sky blue, yellow
HEADS = (
    "#E69F00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
)
MASK_ALLOWED = "#8C8C8C"  # a query may attend to this key (drawn filled)
MASK_BLOCKED = "none"  # it may not (left empty, so the background shows through)
FILL_ALPHA = 0.45

ROLE_COLORS = {"query": QUERY, "key": KEY, "value": VALUE}

# The content column is about 690 CSS pixels wide at a 1280 px window, and an SVG inch is 96 CSS pixels when
# the picture is shown at its drawn size: the widest picture is 7.2 inches, and no text is below 8 points
# (10.7 px).
FULL_WIDTH = 7.2
SMALLEST_FONT = 8


def head_color(head: int) -> str:
    """The colour of head ``head`` (0-based); the palette
    has four, so head 4 is head 0's colour again."""
    return HEADS[head % len(HEADS)]


def ink() -> str:
    """The colour text and lines are drawn in, from the
    current ``rcParams`` (dark on light, light on dark)."""
    return mpl.rcParams["text.color"]


def muted() -> str:
    """A secondary colour for frames and notes: the text colour at half strength."""
    return mpl.colors.to_hex(mpl.colors.to_rgba(ink(), 0.5), keep_alpha=True)
