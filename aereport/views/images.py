"""Images in plots: a decoded image, a strip, a grid, a raster over a plane.

Two kinds: HoloViews elements for images drawn once (:func:`image`), and plain Bokeh figures for
images that change on every tap or drag (:func:`image_figure`, updated through their source).

>>> fig, source = image_figure(np.zeros((28, 28)), "decoded-image")
"""
from __future__ import annotations

import holoviews as hv
import numpy as np

from ..sprites import Viewport
from ._workarounds import CANVAS
from .style import CAPTION


def bottom_up(pixels: np.ndarray | None) -> np.ndarray | None:
    """H×W×4 uint8 RGBA, top row first (as :func:`raster` takes it), as the (H, W) uint32 image
    an ``image_rgba`` glyph draws, bottom row first."""
    if pixels is None or not pixels[..., 3].any():
        return None
    return np.ascontiguousarray(pixels[::-1]).view(np.uint32)[..., 0]


def raster(pixels: np.ndarray | None, vp: Viewport, name: str) -> hv.RGB:
    """An RGBA raster (H×W×4 uint8) spanning the viewport, or one transparent pixel when there is
    nothing to draw (a plot-sized blank would still cross the websocket on every zoom)."""
    if pixels is None or not pixels[..., 3].any():
        pixels = np.zeros((1, 1, 4), np.uint8)
    x0, x1 = (vp.x0, vp.x1) if vp.x0 != vp.x1 else (vp.x0 - 0.5, vp.x1 + 0.5)
    y0, y1 = (vp.y0, vp.y1) if vp.y0 != vp.y1 else (vp.y0 - 0.5, vp.y1 + 0.5)
    return hv.RGB(pixels, bounds=(x0, y0, x1, y1), kdims=["x", "y"],
                  vdims=list("RGBA")).opts(hooks=[name_renderer(name)])


def image(pixels: np.ndarray, kdims=("u", "v"), name: str | None = None, title: str = "",
          width: int = 200) -> hv.Element:
    """An image in [0, 1] (H×W gray or H×W×3 RGB) on its own axes, so it never links to a plot's.

    ``name`` becomes the Bokeh renderer's name, so tests and scripts can find the pixels.
    """
    h, w = pixels.shape[:2]
    bounds = (0, 0, w, h)
    if pixels.ndim == 3:
        el = hv.RGB(np.clip(pixels, 0, 1), bounds=bounds, kdims=list(kdims))
    else:
        el = hv.Image(pixels, bounds=bounds, kdims=list(kdims)).opts(cmap="gray", clim=(0, 1))
    hooks = [name_renderer(name)] if name else []
    hooks.append(lambda plot, element: plot.state.title.update(**CAPTION))
    return el.opts(xaxis=None, yaxis=None, toolbar=None, title=title, frame_width=width,
                   frame_height=round(width * h / w), default_tools=[], hooks=hooks, **CANVAS)


def name_renderer(name: str):
    """A plot hook naming the element's Bokeh renderer, so scripts and tests can find its data."""
    def hook(plot, element):
        plot.handles["glyph_renderer"].name = name
    return hook


def image_source_data(pixels: np.ndarray) -> dict:
    """The ColumnDataSource data that shows ``pixels`` in an :func:`image_figure`."""
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        return {"image": [np.flipud(pixels).astype(np.float32)]}  # Bokeh's rows run bottom-up
    rgba = np.dstack([np.clip(pixels, 0, 1) * 255, np.full((h, w), 255)]).astype(np.uint8)
    return {"image": [np.flipud(rgba).copy().view(np.uint32)[:, :, 0]]}


def image_figure(pixels: np.ndarray, name: str, title: str = "", width: int = 260,
                 size: tuple[int, int] | None = None):
    """A plain Bokeh figure showing ``pixels`` (H×W gray or H×W×3 RGB in [0, 1]) and its source.

    For images that change on every tap or drag: rewriting ``source.data`` sends only the pixels,
    where a HoloViews element would re-render the whole plot (measured: 65 ms vs 2 ms a tap).
    ``size``: the (H, W) the figure is laid out for, when ``pixels`` is a placeholder the page
    replaces (a document need not carry a large blank image).

    >>> fig, source = image_figure(np.zeros((28, 28)), "decoded-image")
    """
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    h, w = size or pixels.shape[:2]
    # The frame, not the figure, gets the image's shape: a figure's height includes its title,
    # which squashed a titled image (the 7-image path strip to a quarter of its height).
    fig = figure(frame_width=width, frame_height=round(width * h / w), title=title, toolbar_location=None,
                 x_range=Range1d(0, w), y_range=Range1d(0, h), tools="")
    fig.title.update(**CAPTION)
    fig.axis.visible = False
    fig.grid.visible = False
    source = ColumnDataSource(image_source_data(pixels))
    if pixels.ndim == 2:
        r = fig.image("image", x=0, y=0, dw=w, dh=h, source=source, palette="Greys256", name=name)
        r.glyph.color_mapper.update(low=0, high=1)  # pixels are 0..1: fix the scale, never autoscale
    else:
        fig.image_rgba("image", x=0, y=0, dw=w, dh=h, source=source, name=name)
    return fig, source


