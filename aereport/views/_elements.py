"""HoloViews building blocks shared by the views: points, their Datashader rendering, legends, images."""
from __future__ import annotations

import functools
import hashlib
import threading
import weakref
from collections import OrderedDict

import datashader as ds
import datashader.transfer_functions as tf
import holoviews as hv
import numpy as np
import pandas as pd
import xarray as xr
from holoviews.core.util import get_param_values
from holoviews.element import RGB, Image, ImageStack
from holoviews.operation import datashader as hvds
from holoviews.operation.datashader import dynspread
from holoviews.plotting.bokeh.callbacks import PlotSizeCallback

from ..blas import blas_threads
from ..data import Dataset
from ..export import DENSITY_CMAP
from ..sprites import THUMBNAILS_AT, Viewport, render
from .transition import extent

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


class SteadyPlotSize(hv.streams.PlotSize):
    """The plot's size in pixels, ignoring changes of less than ``tolerance`` of it.

    A page reflows by a few pixels when a button's label or a number on it changes; every
    responsive plot (hidden tabs too) then reports a new size and Datashader re-aggregated
    the whole dataset for it — seconds of the server's one event loop per Train click. Within
    the tolerance the stream keeps its last size, so HoloViews serves the memoized render.

    ``plot`` names the kind of plot (its raster's renderer): the stream starts at the size
    that kind last reported in this process. Before a page reports its plots' sizes they were
    drawn at Datashader's default 400 × 400, stretched, and drawn again a moment later; a
    visitor whose window is as the last one's now gets the plane at its size at once, often
    from the render cache, and no second render.

    >>> size = SteadyPlotSize("decoder-raster")
    """

    tolerance = 0.1
    _reported: dict[str, dict] = {}

    def __init__(self, plot: str | None = None, **params):
        super().__init__(**{**self._reported.get(plot, {}), **params})
        # The page's first report is taken as it is: the tolerance is for its later reflows, not
        # for another window's size (an equal one renders nothing new: HoloViews memoizes it).
        self._plot, self._last = plot, None

    def transform(self):
        size = super().transform()
        last = self._last
        if last and all(size[k] and last[k] and abs(size[k] - last[k]) <= self.tolerance * last[k]
                        for k in ("width", "height")):
            return last
        self._last = size
        if self._plot and size["width"] and size["height"]:
            SteadyPlotSize._reported[self._plot] = size
        return size


# HoloViews links a stream to a plot through the callback registered for its exact class (as
# GeoViews registers its own): unregistered, this stream never heard of the plot's size, and
# every plane was aggregated at Datashader's default 400×400 and stretched over the plot.
hv.streams.Stream._callbacks["bokeh"][SteadyPlotSize] = PlotSizeCallback


def palette(dataset: Dataset) -> np.ndarray:
    """(k, 3) uint8: the RGB of each label's :func:`color_key` color, in code order."""
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in color_key(dataset).values()], np.uint8)


class datashade_occupied(hvds.datashade):
    """HoloViews' ``datashade``, computing a per-label count's colors only where pixels hold points.

    ``tf.shade`` of a categorical aggregate makes some fifteen passes over every pixel and label
    (70 ms of a 107 ms re-render for an 800×520 plane and 10 labels, BENCHMARKS.md), though a
    layout's points cover a fraction of the plane and an empty pixel is transparent whatever
    the colors. This shades the occupied pixels as one row (plus one empty pixel, so Datashader
    takes its same path: its histogram equalization sees the same counts) and puts them back:
    the same pixels as ``datashade``, which a test checks. Other aggregates are shaded as there.
    One operation, as ``datashade`` is: a DynamicMap per step would memoize every aggregate.
    Sparse pixels are spread here too (``tf.dynspread`` with :data:`SPREAD`), on the packed
    image: HoloViews' ``dynspread`` after it unpacked the RGB element, spread, and packed it
    again (18 of a zoom's 130 ms on the server, BENCHMARKS.md "Session 15"), and a cached render
    is spread once. (A constant, not a parameter: ``rasterize`` warns of parameters it does not know.)
    """

    def _process(self, element, key=None):
        token = render_key(self, element)
        cached = RENDERS.get(token)
        # Each session gets its own element over the shared arrays: HoloViews sets the returned
        # element's pipeline and options to the session's own.
        if cached is not None:
            return cached.clone(link=False)
        rendered = self._render(element, key)
        RENDERS.put(token, rendered.clone(link=False))
        return rendered

    def _render(self, element, key=None):
        agg = hvds.rasterize._process(self, element, key)
        if not (isinstance(agg, (ImageStack, Image)) and self.shades_itself(self.p, isinstance(agg, ImageStack))):
            return dynspread(hvds.shade._process(self, agg, key), dynamic=False, **SPREAD)
        image = self.shade_array(self._extract_data(agg), self.p)
        return RGB(self.uint32_to_uint8_xr(image), **dict(
            get_param_values(agg), kdims=agg.kdims, bounds=agg.bounds, vdims=RGB.vdims[:],
            xdensity=agg.xdensity, ydensity=agg.ydensity))

    @staticmethod
    def shades_itself(p, categorical: bool) -> bool:
        """Whether :meth:`shade_array` shades an aggregate with the options ``p`` (per-label counts
        with a color per label, or a density with a color ramp; both equalized); else HoloViews'
        ``shade`` does."""
        ramp = p.color_key if categorical else p.cmap
        return p.cnorm == "eq_hist" and not p.clims and isinstance(ramp, dict if categorical else list)

    @staticmethod
    def shade_array(array: xr.DataArray, p) -> tf.Image:
        """An aggregate (H×W×labels counts, or H×W for a density) as a Datashader RGBA image,
        shaded with the options ``p`` (the operation's parameters) and spread where sparse."""
        counts = np.asarray(array.data)
        opts = dict(how="eq_hist", min_alpha=p.min_alpha, alpha=p.alpha, rescale_discrete_levels=p.rescale_discrete_levels)
        ydim, xdim = array.dims[:2]
        # einsum: NumPy's sum over a short last axis is ~4x slower (13 of a 640x480 zoom's 50 ms)
        occupied = np.flatnonzero(np.einsum("ijk->ij", counts)) if counts.ndim == 3 else None
        # Datashader mixes the labels' colors with a small matrix product; on BLAS's threads,
        # their spin after it was 2/3 of a served zoom's CPU (see aereport.blas)
        if occupied is None or not len(occupied):
            with blas_threads(1):
                image = tf.shade(array, **opts, **({"cmap": p.cmap} if occupied is None else {"color_key": p.color_key}))
        else:
            cat, k = array.dims[2], counts.shape[2]
            row = np.concatenate([counts.reshape(-1, k)[occupied], np.zeros((1, k), counts.dtype)])[None]
            with blas_threads(1):
                shaded = tf.shade(xr.DataArray(row, dims=array.dims, coords={cat: array.coords[cat].values}),
                                  color_key=p.color_key, **opts)
            pixels = np.zeros(counts.shape[:2], np.uint32)
            pixels.flat[occupied] = shaded.data[0, :-1]
            # A Datashader Image: spread as RGBA pixels ("over"), not as integers added together
            image = tf.Image(pixels, dims=(ydim, xdim), coords={d: array.coords[d] for d in (ydim, xdim)})
        return tf.dynspread(image, shape="circle", **SPREAD)


class RenderCache:
    """The last renders of every session's planes, shared, least recently used first out.

    Sessions looking at the same points over the same viewport get the same raster: every
    visitor's first page (each plane at its whole layout), a zoom back out, a new model's
    planes in every open session. Keyed by the points' content (a hash, ~1 ms at 70k), the
    viewport, the plot's size and every option of the operation, so a changed point, label
    filter or size is a miss, never a wrong picture. Holds at most ``max_bytes`` of rasters.
    """

    def __init__(self, max_bytes: int = 64 << 20):
        self.max_bytes, self.nbytes = max_bytes, 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # the warm-up thread renders beside the event loop
        self.hits = self.misses = 0

    def get(self, token):
        if token is None or not self.max_bytes:  # a cache of no size holds nothing
            return None
        with self._lock:
            hit = self._items.get(token)
            if hit is None:
                self.misses += 1
                return None
            self._items.move_to_end(token)
            self.hits += 1
            return hit[0]

    def put(self, token, element) -> None:
        if token is None:
            return
        # an array of pixels, an RGB's xarray Dataset, or the dict HoloViews' dynspread makes
        data = element if isinstance(element, np.ndarray) else element.data
        size = int(data.nbytes if hasattr(data, "nbytes") else sum(np.asarray(v).nbytes for v in data.values()))
        with self._lock:
            if token in self._items or size > self.max_bytes:
                return
            self._items[token] = (element, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, (_, old) = self._items.popitem(last=False)
                self.nbytes -= old

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = self.hits = self.misses = 0


RENDERS = RenderCache()
_UNKEYED = {"name", "dynamic", "link_inputs", "streams"}


def render_key(op: hvds.datashade, element) -> tuple | None:
    """What a render of ``element`` by ``op`` depends on, as a hashable key (None: not cacheable)."""
    data = element.data
    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        return None
    options = tuple((name, repr(getattr(op.p, name))) for name in op.param if name not in _UNKEYED)
    digest = points_digest(element)
    # The extent a render without a viewport covers: the dimension's declared range, else the data's.
    ranges = tuple(of_frame(data, ("range", d.name, repr(d.range), repr(d.soft_range)),
                            lambda d=d: tuple(map(repr, element.range(d)))) for d in element.kdims)
    return (type(op).__name__, type(element).__name__, element.group, element.label, digest, ranges, options)


def points_digest(element) -> str:
    """A hash of a DataFrame-backed element's every dimension, computed once per frame."""
    data, dims = element.data, element.dimensions()
    return of_frame(data, ("digest", *((d.name, d.label) for d in dims)), lambda: columns_digest(data, dims))


# id(DataFrame) -> (a weak reference to it, {key: value}); an entry goes with its frame.
_OF_FRAME: dict[int, tuple[weakref.ref, dict]] = {}


def of_frame(data: pd.DataFrame, key: tuple, compute):
    """``compute()``, once per DataFrame and ``key``.

    A zoom or pan renders the same frame again, and hashing its columns and finding their extent
    are ~200 ms of a 10M-point render (BENCHMARKS.md). A frame the views render is never changed
    in place (HoloViews treats an element's data as immutable; a filter or a new layout makes a
    new frame), so what is computed from it holds as long as the frame lives.

    >>> df = pd.DataFrame({"x": [0.0, 1.0]})
    >>> of_frame(df, ("max",), lambda: df.x.max())
    1.0
    """
    entry = _OF_FRAME.get(id(data))
    if entry is None or entry[0]() is not data:
        entry = (weakref.ref(data, lambda _, i=id(data): _OF_FRAME.pop(i, None)), {})
        _OF_FRAME[id(data)] = entry
    if key not in entry[1]:
        entry[1][key] = compute()
    return entry[1][key]


def columns_digest(data: pd.DataFrame, dims) -> str:
    """A hash of the columns ``dims`` name: their values, dtypes, categories, names and labels.

    >>> df = pd.DataFrame({"x": [0.0, 1.0]})
    >>> columns_digest(df, [hv.Dimension("x")]) == columns_digest(df.copy(), [hv.Dimension("x")])
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    for dim in dims:
        column = data[dim.name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            digest.update(repr(list(column.cat.categories)).encode())
            column = column.cat.codes
        values = np.ascontiguousarray(column.to_numpy())
        digest.update(f"{dim.name}:{dim.label}:{values.dtype}:{values.shape}".encode())
        digest.update(values.data)
    return digest.hexdigest()


def shade(points: hv.DynamicMap, key: dict[str, str], ranges: hv.streams.RangeXY,
          size: hv.streams.PlotSize) -> hv.DynamicMap:
    """Every point, aggregated per pixel by label at the current zoom, spread where sparse.

    HoloViews gives the shaded plot a legend from ``color_key``. ``ranges`` and ``size`` are
    the viewport streams (shared with overlays drawn over the same viewport): when the points
    move to another layout, clear ``ranges`` (``ranges.update(x_range=None, y_range=None)``)
    before they re-render, or Datashader aggregates the new points over the old layout's viewport.

    >>> shade(hv.DynamicMap(points), color_key(dataset), hv.streams.RangeXY(), hv.streams.PlotSize())  # doctest: +SKIP
    """
    aggregator, shading = _shading(key)
    return datashade_occupied(points, streams=[ranges, size], aggregator=aggregator, **shading)


SPREAD = dict(threshold=0.8, max_px=4)
# Every plot here is a few glyphs over Datashader's rasters, which WebGL (HoloViews' default)
# draws no faster; without a GPU (a VM, a remote desktop, headless Chromium) Bokeh's blit of the
# WebGL canvas into the plot cost the page ~250 ms of each tap, which repaints the plane.
CANVAS = dict(backend_opts={"plot.output_backend": "canvas"})
HOVER_PX = 12  # the pointer finds a sample within this many screen pixels
# A plane's markers (the decoder's position, the hovered sample) are labels on the overlay layer
# of the plot's canvas: moving one repaints that layer alone, not the Datashader raster, axes and
# points beneath (a glyph repainted them all: ~20 of a tap's ~70 ms in a browser without a GPU,
# ~5 ms of each hover; BENCHMARKS.md "Session 21", "Session 22"). Unlike a glyph there, a label is
# clipped to the plane when the view moves away from it.
MARKER_STYLE = dict(text="\u2715", text_align="center", text_baseline="middle", text_font_size="20px",
                    text_font_style="bold", text_color="black", level="overlay")
HOVER_MARKER_STYLE = dict(MARKER_STYLE, text="\u25ef", text_font_style="normal")  # a ring
# Bokeh reports taps on a plot's axes too, at positions off the plane: a tap callback (its ranges
# passed as xr, yr) starts with this and takes only taps on the plane.
ON_PLANE_JS = """
const inside = (v, r) => v >= Math.min(r.start, r.end) && v <= Math.max(r.start, r.end);
const on_plane = inside(cb_obj.x, xr) && inside(cb_obj.y, yr);
"""


def _shading(key: dict[str, str]) -> tuple[ds.reductions.Reduction, dict]:
    """The aggregator and the shading options of a plane of points labelled after ``key``."""
    if len(key) > 1:
        return ds.count_cat("label"), dict(color_key=key, min_alpha=60)
    # count_cat of a single category shades nothing (all-NaN baseline): use a density ramp
    return ds.count(), dict(cmap=DENSITY_CMAP)


def warm_up(dataset: Dataset) -> None:
    """Compile the numba code that :func:`shade` runs for ``dataset``'s points, now.

    Datashader generates its aggregation for each set of columns and categories and numba
    compiles it on first use, and its spreading kernels are not cached on disk either: ~4 s
    the first visitor of a server would wait for. Servers run it through :func:`warm_up_soon`.

    >>> warm_up(state.dataset)  # doctest: +SKIP
    """
    n = len(dataset)
    xy = np.zeros((n, 2), np.float32)  # the layouts' dtype: another dtype compiles anew
    xy[:, 0], xy[:, 1] = np.arange(n) % 7, np.arange(n) % 5  # a spread: an empty extent errs
    points = hv.Points(frame(xy, dataset), ["x", "y"], ["label"])  # a slice would compile for its strides
    # Bounds from the data's own extent come as float32, from a zoom's ranges as Python floats:
    # each compiles its own aggregation.
    aggregator, shading = _shading(color_key(dataset))
    for ranges in (dict(), dict(x_range=(0.0, 6.0), y_range=(0.0, 4.0))):
        datashade_occupied(points, dynamic=False, width=64, height=64, aggregator=aggregator, **ranges, **shading)


def warm_up_soon(dataset: Dataset) -> threading.Thread:
    """Start :func:`warm_up` on a daemon thread: a server goes on to listen meanwhile (warming
    before listening made it listen 4-5 s later: the compiles hold the GIL), and a visitor who
    comes sooner waits on the same compile, not a second one.

    >>> warm_up_soon(state.dataset).join()  # doctest: +SKIP
    """
    thread = threading.Thread(target=warm_up, args=(dataset,), daemon=True, name="warm-up")
    thread.start()
    return thread


def viewport(x_range, y_range, width, height, xy: np.ndarray) -> Viewport:
    """The stream values of a plot as a :class:`~aereport.sprites.Viewport`: the data's extent
    until the plot reports a range; width and height 0 until it reports a size."""
    if x_range is None or y_range is None or None in (*x_range, *y_range):
        x_range, y_range = extent(xy)
    return Viewport(*map(float, x_range), *map(float, y_range), int(width or 0), int(height or 0))


def detail(state, xy: np.ndarray, vp: Viewport, name: str, visible: np.ndarray | None = None,
           selected: np.ndarray | None = None) -> hv.RGB:
    """The layer over a plane (renderer ``name``): each shown point as its own image when at most
    ``THUMBNAILS_AT`` are in view, and the ``selected`` samples lit over a veil; see
    :func:`aereport.sprites.render`. ``state``: the :class:`~aereport.state.ReportState` shown."""
    return raster(detail_pixels(state, xy, vp, visible, selected), vp, name)


def detail_pixels(state, xy: np.ndarray, vp: Viewport, visible: np.ndarray | None = None,
                  selected: np.ndarray | None = None) -> np.ndarray | None:
    """The pixels of :func:`detail` (H×W×4 uint8, top row first), or None: nothing to draw."""
    if not (vp.width and vp.height):
        return None
    shown = vp.contains(xy) if visible is None else vp.contains(xy) & visible
    few = shown.sum() <= THUMBNAILS_AT
    if not (few or selected is not None):
        return None
    return render(xy, vp, atlas=state.sprites if few else None, labels=state.labels,
                  palette=palette(state.dataset), visible=visible, selected=selected)


def plane_pixels(points: hv.Points, vp: Viewport, key: dict[str, str]) -> np.ndarray | None:
    """What :func:`shade` draws of ``points`` over ``vp`` (its size in device pixels), made
    without HoloViews: (H, W) uint32 RGBA, the bottom row first as Bokeh draws it; None if no
    point is shown. A test checks it is the operation's render pixel for pixel.

    >>> plane_pixels(hv.Points(frame(xy, dataset), ["x", "y"], ["label"]), vp, color_key(dataset))  # doctest: +SKIP
    """
    data = points.data
    if not len(data) or not (vp.width and vp.height):
        return None
    # Shared as the operation's renders are: a zoom back out to the whole layout, or every
    # session at the same viewport, is drawn once.
    colors, (x, y) = tuple(sorted(key.items())), (d.name for d in points.kdims)
    token = ("plane_pixels", points_digest(points), x, y, vp, colors)
    cached = RENDERS.get(token)
    if cached is None:
        op = _plane_operation(colors)
        canvas = ds.Canvas(plot_width=vp.width, plot_height=vp.height, x_range=(vp.x0, vp.x1), y_range=(vp.y0, vp.y1))
        cached = op.shade_array(canvas.points(data, x, y, op.aggregator), op).data
        cached.flags.writeable = False  # one array every session's plot is sent: none may change it
        RENDERS.put(token, cached)
    return cached


@functools.lru_cache(maxsize=16)
def _plane_operation(key: tuple[tuple[str, str], ...]) -> datashade_occupied:
    # The operation instance whose options plane_pixels shades with: made once per color key.
    aggregator, shading = _shading(dict(key))
    return datashade_occupied.instance(aggregator=aggregator, **shading)


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


# An image's title is a caption, not a heading: Bokeh cuts a title off at its figure's edge, and
# the longest ("Autoencoder latent: 0 of 8 are pixel-space neighbours too") needs ~440 px in
# Bokeh's default bold 13 px.
CAPTION = dict(text_font_size="12px", text_font_style="normal")


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


_PENDING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # document -> updates for its next tick
_PENDING_LOCK = threading.Lock()  # a push from another thread must not append to a list being flushed


def push(model, update, now: bool = False) -> None:
    """Run ``update`` (which changes Bokeh models of ``model``'s document) now, or, in a served
    session, on the session's next tick: stream callbacks run without the document lock that
    Bokeh requires for model changes, and a next-tick callback always holds it.

    Updates pushed before that tick run together and reach the browser as one message: Bokeh
    sends a message per changed property, each serializing a reference to every model of the
    document, and one tap changes six (image, path, line, marker and two titles).

    ``now``: the caller holds the document lock (a Bokeh event callback), and the update goes
    to the browser at once as its own message, ahead of what the rest of the callback changes:
    a tap's image before its path strip and the widgets that show the position.

    >>> push(source, lambda: setattr(source, "data", {"x": [1], "y": [2]}))  # doctest: +SKIP
    """
    doc = model.document
    if doc is None or doc.session_context is None:
        update()
        return
    if now:
        _write(doc, [update])
        return
    with _PENDING_LOCK:
        pending = _PENDING.get(doc)
        if pending is None:
            pending = _PENDING[doc] = []
            doc.add_next_tick_callback(lambda: _flush(doc))
        pending.append(update)


def _flush(doc) -> None:
    with _PENDING_LOCK:
        updates = _PENDING.pop(doc, [])
    _write(doc, updates)


def _write(doc, updates) -> None:
    from panel.io.document import unlocked
    from panel.io.state import set_curdoc

    # Panel's `unlocked` holds the document's events and writes them as one PATCH-DOC message.
    failed = None
    with set_curdoc(doc), unlocked():
        for update in updates:
            try:
                update()
            except Exception as exc:  # one failing update must not drop the others of its tick
                failed = failed or exc
    if failed is not None:
        raise failed
