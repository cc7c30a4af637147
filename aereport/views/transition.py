"""Animated layout switches: every point flies from its place in one layout to its place in the next.

The seed's MNIST figure moved its points between UMAP, t-SNE and the autoencoder's layout over
about a second (GSAP's Power4 ease). Here the browser does it (``js/transition.js``): the server sends
each point's start and end as fractions of the plot's frame once, and the page draws the frames
on a canvas over the plane, so the Datashader raster of the new layout can be computed and
arrive underneath while the points are still flying.
"""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, CustomJS

from .scripts import script
from .style import abgr

DURATION_MS = 1000
NAME = "layout-transition"
_EMPTY = {"u0": [], "v0": [], "u1": [], "v1": [], "c": []}


def add_transition(fig, colors: list[str], name: str = NAME) -> ColumnDataSource:
    """Give a Bokeh figure an animated layout switch; returns the source to set with
    :func:`transition_data` (setting it starts the animation in the page). The page keeps its
    record in ``window.aereportTransitions[name]``.

    >>> source = add_transition(figure(), ["#1f77b4", "#ff7f0e"])  # doctest: +SKIP
    """
    points = ColumnDataSource(dict(_EMPTY), name=f"{name}-points")
    # A hidden renderer carries the points into the document (a model nothing refers to never
    # reaches the page) and names the transition for scripts and tests.
    carrier = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "x": [0], "y": [0], "dw": [0], "dh": [0]})
    carrier = fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=carrier, name=name, visible=False)
    carrier.tags = [points]  # given to image_rgba, tags land on the glyph, not the renderer
    points.js_on_change("data", CustomJS(args=dict(points=points, fig=fig, name=name, palette=abgr(colors),
                                                   duration=DURATION_MS), code=script("transition.js")))
    return points


def fractions(xy: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Each point's position as fractions of a viewport (0 at the left/bottom edge, 1 at the other)."""
    def frac(v, lo, hi):
        return ((v - lo) / ((hi - lo) or 1.0)).astype(np.float32)
    return frac(xy[:, 0], *x_range), frac(xy[:, 1], *y_range)


def extent(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y ranges a plot of the whole layout shows (Datashader's bounds: min to max)."""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return (float(x0), float(x1)), (float(y0), float(y1))


def transition_data(start: np.ndarray, x_range, y_range, end: np.ndarray,
                    codes: np.ndarray | None) -> dict[str, np.ndarray]:
    """The points source's data for a switch from layout ``start``, seen over ``x_range`` and
    ``y_range`` (the plot's viewport now), to layout ``end`` seen whole.

    >>> data = transition_data(state.layouts["ae"], (-3, 3), (-3, 3), state.layouts["umap"], state.labels)  # doctest: +SKIP
    """
    if x_range is None or y_range is None or None in (*x_range, *y_range):
        x_range, y_range = extent(start)
    u0, v0 = fractions(start, x_range, y_range)
    u1, v1 = fractions(end, *extent(end))
    codes = np.zeros(len(start), np.uint8) if codes is None else np.asarray(codes)
    c = codes.astype(np.uint8 if codes.max(initial=0) < 256 else np.uint16)
    return {"u0": u0, "v0": v0, "u1": u1, "v1": v1, "c": c}

