"""HoloViews building blocks shared by the views: points, their Datashader rendering, legends, images."""
from __future__ import annotations

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import datashade, dynspread

from ..data import Dataset

UNLABELLED = "all"


def categories(dataset: Dataset) -> list[str]:
    """The display names of the dataset's labels, in code order."""
    if dataset.labels is None:
        return [UNLABELLED]
    n = int(dataset.labels.max()) + 1
    return [dataset.label_text(i) for i in range(max(n, len(dataset.label_names or ())))]


def color_key(dataset: Dataset) -> dict[str, str]:
    """A distinct color per label (Category10 up to 10 labels, Glasbey beyond)."""
    import colorcet

    names = categories(dataset)
    palette = colorcet.glasbey_category10 if len(names) > 10 else \
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
         "#bcbd22", "#17becf"]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def frame(xy: np.ndarray, dataset: Dataset) -> pd.DataFrame:
    """A DataFrame of x, y and the categorical label Datashader aggregates by."""
    codes = dataset.labels if dataset.labels is not None else np.zeros(len(xy), np.int64)
    label = pd.Categorical.from_codes(codes, categories=categories(dataset))
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": label})


def shade(points: hv.DynamicMap, key: dict[str, str]) -> tuple[hv.DynamicMap, hv.streams.RangeXY]:
    """Every point, aggregated per pixel by label at the current zoom, spread where sparse.

    HoloViews gives the shaded plot a legend from ``color_key``. Returns the shaded map and its
    viewport stream: when the points move to another layout,
    clear the stream (``ranges.update(x_range=None, y_range=None)``) before they re-render, or
    Datashader aggregates the new points over the old layout's viewport.
    """
    ranges = hv.streams.RangeXY()
    shaded = datashade(points, aggregator=ds.count_cat("label"), color_key=key, min_alpha=60,
                       streams=[ranges, hv.streams.PlotSize()])
    return dynspread(shaded, threshold=0.8, max_px=4), ranges


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
    return el.opts(xaxis=None, yaxis=None, toolbar=None, title=title, frame_width=width,
                   frame_height=round(width * h / w), default_tools=[], hooks=hooks)


def name_renderer(name: str):
    """A plot hook naming the element's Bokeh renderer, so scripts and tests can find its data."""
    def hook(plot, element):
        plot.handles["glyph_renderer"].name = name
    return hook
