"""A plane of points drawn by Datashader: one HoloViews operation for every render of it.

:class:`shade_plane` draws every point of a layout, aggregated per pixel by label at the current
zoom, shaded and spread where sparse. A plane's first render, its zooms and pans (through
HoloViews, or :meth:`shade_plane.pixels` for a served session's zoom), a layout switch and the
exported page's rasters (:func:`plane_raster`) all draw through it, keyed the same way into one
:class:`~aereport.cache.RenderCache` given to it. Over the points, :func:`detail` draws each
point as its own image once few enough are in view, and a selection over a veil.

>>> op = shade_plane.with_options(cache=RenderCache())                                  # doctest: +SKIP
>>> op(hv.DynamicMap(points), streams=[ranges, size], **shading(color_key(dataset)))  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import hashlib
import threading

import datashader as ds
import datashader.transfer_functions as tf
import holoviews as hv
import numpy as np
import pandas as pd
import param
import xarray as xr
from holoviews.core.util import get_param_values
from holoviews.element import RGB, Image, ImageStack
from holoviews.operation import datashader as hvds
from holoviews.operation.datashader import dynspread

from ..blas import blas_threads
from ..cache import RenderCache
from ..data import Dataset
from ..latent import manifold_shape, mosaic
from ..sprites import THUMBNAILS_AT, Viewport, render
from .images import raster
from .style import DENSITY_CMAP, color_key, frame, palette
from .transition import extent

# What a render does not depend on: not part of its cache key.
_UNKEYED = {"name", "dynamic", "link_inputs", "streams", "cache"}


class shade_plane(hvds.datashade):
    """HoloViews' ``datashade`` of a plane's points, spread where sparse, shading only the pixels
    that hold points, and kept in a shared cache.

    ``tf.shade`` of a categorical aggregate makes some fifteen passes over every pixel and label
    (70 ms of a 107 ms re-render for an 800×520 plane and 10 labels, BENCHMARKS.md "Zoom"),
    though a layout's points cover a fraction of the plane and an empty pixel is transparent
    whatever the colors. This shades the occupied pixels as one row (plus one empty pixel, so
    Datashader takes its same path: its histogram equalization sees the same counts) and puts
    them back: the same pixels as ``datashade`` followed by ``dynspread``, which a test checks.
    Sparse pixels are spread on the packed image: HoloViews' ``dynspread`` after it unpacked
    the RGB element, spread, and packed it again (18 of a zoom's 130 ms on the server). Other
    aggregates are shaded as ``datashade`` does.

    Make one with :meth:`with_options`: ``rasterize`` warns of every parameter given to
    ``instance()`` or a call that its element rasterizers do not take, as these three are not.
    """

    spread_threshold = param.Number(default=0.8, bounds=(0, 1), doc="""
        How full of points (the fraction of non-empty pixels among their neighbours) a sparse
        plane is spread until; 0 spreads nothing (Datashader's ``dynspread`` threshold).""")
    spread_px = param.Integer(default=4, bounds=(0, 16), doc="""
        The most pixels a point of a sparse plane is grown by on each side.""")
    cache = param.ClassSelector(class_=RenderCache, default=None, allow_None=True, doc="""
        Where renders are kept and shared (a served run's state holds one for all its
        sessions); None renders every time.""")

    @classmethod
    def with_options(cls, cache: RenderCache | None = None, spread_threshold: float | None = None,
                     spread_px: int | None = None, **params) -> "shade_plane":
        """An instance with these options (None: the default) and ``params`` of ``datashade``.

        >>> shade_plane.with_options(cache=RenderCache(), spread_px=2, **shading(key))  # doctest: +SKIP
        """
        op = cls.instance(**params)
        op.param.update(cache=cache, **{k: v for k, v in (("spread_threshold", spread_threshold),
                                                          ("spread_px", spread_px)) if v is not None})
        return op

    def _process(self, element, key=None):
        if self.cache is None:  # nothing to share: not even the key (a 10M-point hash) is worth making
            return self._render(element, key)
        token = self.token(element, self.p)
        cached = self.cache.get(token)
        # Each session gets its own element over the shared arrays: HoloViews sets the returned
        # element's pipeline and options to the session's own.
        if cached is not None:
            return cached.clone(link=False)
        rendered = self._render(element, key)
        self.cache.put(token, rendered.clone(link=False))
        return rendered

    def _render(self, element, key=None):
        agg = hvds.rasterize._process(self, element, key)
        spread = dict(threshold=self.spread_threshold, max_px=self.spread_px)
        if not (isinstance(agg, (ImageStack, Image)) and self.shades_itself(self.p, isinstance(agg, ImageStack))):
            return dynspread(hvds.shade._process(self, agg, key), dynamic=False, **spread)
        image = self.shade_array(self._extract_data(agg), self.p)
        return RGB(self.uint32_to_uint8_xr(image), **dict(
            get_param_values(agg), kdims=agg.kdims, bounds=agg.bounds, vdims=RGB.vdims[:],
            xdensity=agg.xdensity, ydensity=agg.ydensity))

    def pixels(self, points: hv.Points, vp: Viewport) -> np.ndarray | None:
        """What this operation draws of ``points`` over ``vp`` (its size in device pixels), made
        without HoloViews' element pipeline (a served zoom): (H, W) uint32 RGBA, the bottom row
        first as Bokeh draws it; None if no point is shown. A test checks it is a render's
        pixels exactly.

        >>> op.pixels(hv.Points(frame(xy, dataset), ["x", "y"], ["label"]), vp)  # doctest: +SKIP
        """
        data = points.data
        if not len(data) or not (vp.width and vp.height):
            return None
        x, y = (d.name for d in points.kdims)
        token = ("pixels", self.token(points, self), x, y, vp) if self.cache is not None else None
        cached = self.cache.get(token) if token is not None else None
        if cached is None:
            canvas = ds.Canvas(plot_width=vp.width, plot_height=vp.height, x_range=(vp.x0, vp.x1),
                               y_range=(vp.y0, vp.y1))
            cached = self.shade_array(canvas.points(data, x, y, self.aggregator), self).data
            cached.flags.writeable = False  # one array every session's plot is sent: none may change it
            if self.cache is not None:
                self.cache.put(token, cached)
        return cached

    def token(self, element, p) -> tuple | None:
        """What a render of ``element`` with the options ``p`` depends on, as a hashable key
        (None: not cacheable): the points' content, their declared ranges, every option."""
        data = element.data
        if not isinstance(data, pd.DataFrame) or len(data) == 0:
            return None
        options = tuple((name, repr(getattr(p, name))) for name in self.param if name not in _UNKEYED)
        digest = self.digest(element)
        # The extent a render without a viewport covers: the dimension's declared range, else the data's.
        ranges = tuple(self._derived(data, ("range", d.name, repr(d.range), repr(d.soft_range)),
                                     lambda d=d: tuple(map(repr, element.range(d)))) for d in element.kdims)
        return (type(self).__name__, type(element).__name__, element.group, element.label, digest, ranges, options)

    def digest(self, element) -> str:
        """A hash of a DataFrame-backed element's every dimension, computed once per frame."""
        data, dims = element.data, element.dimensions()
        return self._derived(data, ("digest", *((d.name, d.label) for d in dims)), lambda: columns_digest(data, dims))

    def _derived(self, data, key, compute):
        return self.cache.derived(data, key, compute) if self.cache is not None else compute()

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
        if not p.spread_px or not p.spread_threshold:
            return image
        return tf.dynspread(image, shape="circle", threshold=p.spread_threshold, max_px=p.spread_px)


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


def shading(key: dict[str, str]) -> dict:
    """The aggregator and shading options of a plane of points labelled after ``key``: a color
    per label, or a density ramp for unlabelled points (``count_cat`` of one category shades
    nothing: its baseline is all NaN).

    >>> sorted(shading({"0": "#000000", "1": "#ffffff"}))
    ['aggregator', 'color_key', 'min_alpha']
    """
    if len(key) > 1:
        return dict(aggregator=ds.count_cat("label"), color_key=key, min_alpha=60)
    return dict(aggregator=ds.count(), cmap=DENSITY_CMAP)


def shade(points: hv.DynamicMap, key: dict[str, str], ranges: hv.streams.RangeXY, size: hv.streams.PlotSize,
          cache: RenderCache | None = None) -> hv.DynamicMap:
    """Every point, aggregated per pixel by label at the current zoom, spread where sparse.

    HoloViews gives the shaded plot a legend from ``color_key``. ``ranges`` and ``size`` are
    the viewport streams (shared with overlays drawn over the same viewport): when the points
    move to another layout, clear ``ranges`` (``ranges.update(x_range=None, y_range=None)``)
    before they re-render, or Datashader aggregates the new points over the old layout's viewport.

    >>> shade(hv.DynamicMap(points), color_key(dataset), hv.streams.RangeXY(), hv.streams.PlotSize())  # doctest: +SKIP
    """
    return shade_plane.with_options(cache=cache)(points, streams=[ranges, size], **shading(key))


@functools.lru_cache(maxsize=16)
def _plane_op(key: tuple[tuple[str, str], ...], cache: RenderCache | None) -> shade_plane:
    # The operation a served zoom shades with, for one color key and cache: made once.
    return shade_plane.with_options(cache=cache, **shading(dict(key)))


def plane_op(key: dict[str, str], cache: RenderCache | None = None) -> shade_plane:
    """The :class:`shade_plane` with the options :func:`shade` gives ``key``'s planes (one per key and cache)."""
    return _plane_op(tuple(sorted(key.items())), cache)


RASTER_PX = 1200  # the exported page's rasters: sharp under moderate zoom


def plane_raster(xy: np.ndarray, dataset: Dataset, px: int = RASTER_PX) -> tuple[np.ndarray, tuple]:
    """A whole layout drawn for the exported page: (px, px, 4) uint8 RGBA, top row first, and its
    bounds (x0, y0, x1, y1), the data's extent padded by 2%.

    The page zooms into a fixed raster, so points are bolder than a served plane's (lower
    ``spread_threshold``, at most ``spread_px=2``, ``min_alpha=90``).

    >>> rgba, bounds = plane_raster(state.layouts["ae"], state.dataset)  # doctest: +SKIP
    """
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    pad = 0.02 * max(float(x1 - x0), float(y1 - y0), 1e-6)
    bounds = (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))
    options = {**shading(color_key(dataset)), "min_alpha": 90} if len(color_key(dataset)) > 1 \
        else shading(color_key(dataset))
    op = shade_plane.with_options(spread_threshold=0.6, spread_px=2, **options)
    packed = op.pixels(hv.Points(frame(xy, dataset), ["x", "y"], ["label"]),
                       Viewport(bounds[0], bounds[2], bounds[1], bounds[3], px, px))
    rgba = np.flipud(packed.view(np.uint8).reshape(px, px, 4))  # Datashader's row 0 is the bottom
    return np.ascontiguousarray(rgba), bounds


def warm_up(dataset: Dataset, cache: RenderCache | None = None) -> None:
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
    op = shade_plane.with_options(cache=cache)
    for ranges in (dict(), dict(x_range=(0.0, 6.0), y_range=(0.0, 4.0))):
        op(points, dynamic=False, width=64, height=64, **ranges, **shading(color_key(dataset)))


def warm_up_soon(dataset: Dataset) -> threading.Thread:
    """Start :func:`warm_up` on a daemon thread: a server goes on to listen meanwhile (warming
    before listening made it listen 4-5 s later: the compiles hold the GIL), and a visitor who
    comes sooner waits on the same compile, not a second one.

    >>> warm_up_soon(state.dataset).join()  # doctest: +SKIP
    """
    thread = threading.Thread(target=warm_up, args=(dataset,), daemon=True, name="warm-up")
    thread.start()
    return thread


def min_span(xy: np.ndarray) -> tuple[float, float]:
    """The narrowest x and y span a plot of ``xy`` may zoom to: a quarter of the points' typical
    spacing (the extent over √n), where a view holds about one point, drawn as its own image.
    Unbounded, 60 wheel steps reached a 3e-12-wide view of 15-digit ticks.

    >>> min_span(np.array([[0.0, 0.0], [4.0, 2.0], [1.0, 1.0], [2.0, 2.0]]))
    (0.5, 0.25)
    """
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    scale = 4 * np.sqrt(len(xy))
    return max(float(x1 - x0) / scale, 1e-9), max(float(y1 - y0) / scale, 1e-9)


def limit_zoom(fig, xy: np.ndarray) -> None:
    """Stop ``fig``'s zoom at :func:`min_span` of the layout ``xy`` it shows (Bokeh's
    ``Range1d.min_interval``, kept by every zoom tool)."""
    fig.x_range.min_interval, fig.y_range.min_interval = min_span(xy)


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


def manifold_pixels(state, layout: str, vp: Viewport) -> np.ndarray | None:
    """The decoded manifold over the viewport (:meth:`aereport.latent.LatentMap.manifold`, as many
    images as :func:`~aereport.latent.manifold_shape` fits) as H×W×4 uint8 RGBA, top row first;
    None before the plot has a size."""
    if not (vp.width and vp.height):
        return None
    shape = manifold_shape(vp.width, vp.height, state.dataset.image_shape)
    grid = mosaic(state.latent.manifold(layout, (vp.x0, vp.x1, vp.y0, vp.y1), shape))
    return to_rgba(grid)


def to_rgba(pixels: np.ndarray) -> np.ndarray:
    """An image in [0, 1] (H×W gray or H×W×3) as opaque H×W×4 uint8 RGBA."""
    values = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(values[..., None], 3, axis=2) if values.ndim == 2 else values[..., :3]
    return np.dstack([rgb, np.full(values.shape[:2], 255, np.uint8)])


SIGMA_AT = 200  # at most this many points in view get their μ ± σ ellipse
SIGMA_COLOR = (68, 68, 68, 200)


def sigma_pixels(xy: np.ndarray, sigma: np.ndarray, vp: Viewport, most: int = SIGMA_AT) -> np.ndarray | None:
    """A VAE's uncertainty over its latent plane: for each point in view (at most ``most``; None
    with more, or before the plot has a size), the outline of the ellipse of half-axes σ around its
    mean ``xy``, as H×W×4 uint8 RGBA, top row first.

    >>> sigma_pixels(np.zeros((1, 2)), np.ones((1, 2)), Viewport(-2, 2, -2, 2, 40, 40))[20, 30].tolist()
    [68, 68, 68, 200]
    """
    if not (vp.width and vp.height):
        return None
    # the points in view (as thumbnails count them): a wide σ reaches far, yet is drawn only
    # around the points it belongs to
    near = vp.contains(xy)
    if not near.any() or near.sum() > most:
        return None
    t = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    outline = np.stack([xy[near, 0, None] + sigma[near, 0, None] * np.cos(t),
                        xy[near, 1, None] + sigma[near, 1, None] * np.sin(t)], axis=-1).reshape(-1, 2)
    col, row = vp.pixels(outline)
    inside = (col >= 0) & (col < vp.width) & (row >= 0) & (row < vp.height)
    out = np.zeros((vp.height, vp.width, 4), np.uint8)
    out[row[inside], col[inside]] = SIGMA_COLOR
    return out
