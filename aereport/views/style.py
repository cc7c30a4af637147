"""How the report looks: label colors, marker and caption styles, the canvas every plot draws on.

One place for what every view (and the exported page) shares, so a plane, its legend, its
thumbnails and the page's own drawing agree on each label's color.

>>> color_key(Dataset.from_arrays(np.zeros((2, 4, 4)), [0, 1]))
{'0': '#1f77b4', '1': '#ff7f0e'}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Dataset

CATEGORY10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
              "#bcbd22", "#17becf"]
DENSITY_CMAP = ["#9ecae1", "#08306b"]  # unlabelled data: light where sparse, dark where dense

# Every plot here is a few glyphs over Datashader's rasters, which WebGL (HoloViews' default)
# draws no faster; without a GPU (a VM, a remote desktop, headless Chromium) Bokeh's blit of the
# WebGL canvas into the plot cost the page ~250 ms of each tap, which repaints the plane.
CANVAS = dict(backend_opts={"plot.output_backend": "canvas"})
HOVER_PX = 12  # the pointer finds a sample within this many screen pixels
# A plane's markers (the decoder's position, the hovered sample) are labels on the overlay layer
# of the plot's canvas: moving one repaints that layer alone, not the Datashader raster, axes and
# points beneath (a glyph repainted them all: ~20 of a tap's ~70 ms in a browser without a GPU,
# ~5 ms of each hover; BENCHMARKS.md "Tap latency"). Unlike a glyph there, a label is clipped to
# the plane when the view moves away from it.
MARKER_STYLE = dict(text="\u2715", text_align="center", text_baseline="middle", text_font_size="20px",
                    text_font_style="bold", text_color="black", level="overlay")
HOVER_MARKER_STYLE = dict(MARKER_STYLE, text="\u25ef", text_font_style="normal")  # a ring
# An image's title is a caption, not a heading: Bokeh cuts a title off at its figure's edge, and
# the longest ("Autoencoder latent: 0 of 8 are pixel-space neighbours too") needs ~440 px in
# Bokeh's default bold 13 px.
CAPTION = dict(text_font_size="12px", text_font_style="normal")


def categories(dataset: Dataset) -> list[str]:
    """The display names of the dataset's labels, in code order (see :attr:`Dataset.categories`)."""
    return dataset.categories


def color_key(dataset: Dataset) -> dict[str, str]:
    """A distinct color per label (Category10 up to 10 labels, Glasbey beyond)."""
    import colorcet

    names = categories(dataset)
    palette = colorcet.glasbey_category10 if len(names) > 10 else CATEGORY10
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def palette(dataset: Dataset) -> np.ndarray:
    """(k, 3) uint8: the RGB of each label's :func:`color_key` color, in code order."""
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in color_key(dataset).values()], np.uint8)


def frame(xy: np.ndarray, dataset: Dataset) -> pd.DataFrame:
    """A DataFrame of x, y and the categorical label Datashader aggregates by."""
    codes = dataset.labels if dataset.labels is not None else np.zeros(len(xy), np.int64)
    label = pd.Categorical.from_codes(codes, categories=categories(dataset))
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": label})


def abgr(colors: list[str]) -> list[int]:
    """``#rrggbb`` colors as the opaque little-endian RGBA words a Bokeh RGBA image holds.

    >>> hex(abgr(["#ff0000"])[0])
    '0xff0000ff'
    """
    return [0xFF000000 | int(h[5:7], 16) << 16 | int(h[3:5], 16) << 8 | int(h[1:3], 16) for h in colors]
