"""A served plane's zoom and pan, drawn straight into its rasters' Bokeh sources."""
from __future__ import annotations

import weakref
from collections.abc import Callable

import holoviews as hv
import numpy as np
import panel as pn

from ..sprites import Viewport
from ._workarounds import push
from .images import bottom_up
from .plane import detail_pixels, plane_op, viewport

# A layer of the plane: its pixels over a viewport, (H, W) uint32 RGBA with the bottom row first
# as Bokeh draws them, or None where it shows nothing.
Layer = Callable[[Viewport], "np.ndarray | None"]


class ServedZoom:
    """Redraws a plane's rasters for each zoom or pan of a served session, without HoloViews.

    HoloViews re-renders a plane on every range event: the stream's DynamicMaps rebuild and
    validate their elements, the plot updates every glyph, axis and legend, and Bokeh walks the
    whole document's model graph after it; that was ~3/4 of a zoom's server time, Datashader the
    rest (BENCHMARKS.md "Zoom"), and 20 sessions zooming filled the server's one core. Here
    a zoom sets ``ranges`` (so taps, hovers and any later HoloViews render see the viewport),
    computes each layer's pixels and replaces the data of the renderer named for it, once per
    tick however many range events arrived. Only a plot with a known size is drawn here; before
    that the range event goes to HoloViews as usual. Made before the plot is built, it unlinks
    ``ranges`` from the plot, so HoloViews does not render the same zoom a second time.

    >>> zoom = ServedZoom(ranges, size, lambda: xy, {"decoder-raster": shaded, "decoder-raster-thumbnails": thumbs})
    >>> plane.opts(hooks=[zoom.hook])  # doctest: +SKIP
    """

    def __init__(self, ranges: hv.streams.RangeXY, size: hv.streams.PlotSize, xy: Callable[[], np.ndarray],
                 layers: dict[str, Layer]):
        ranges.linked = False
        self.ranges, self.size, self.xy, self.layers = ranges, size, xy, layers
        self._figures: weakref.WeakSet = weakref.WeakSet()
        self._pending = False

    def hook(self, plot, element) -> None:
        """A plot hook taking the figure's range events (hooks run on every re-render: once)."""
        from bokeh.events import RangesUpdate

        fig = plot.state
        if fig not in self._figures:
            self._figures.add(fig)
            fig.on_event(RangesUpdate, lambda event, fig=fig: self._zoomed(fig, event))

    def _zoomed(self, fig, event) -> None:
        ranges = (event.x0, event.x1, event.y0, event.y1)
        if None in ranges or not all(np.isfinite(ranges)):
            return
        x_range, y_range = (float(event.x0), float(event.x1)), (float(event.y0), float(event.y1))
        if not (self.size.width and self.size.height):  # not laid out yet: HoloViews renders it
            self.ranges.event(x_range=x_range, y_range=y_range)
            return
        self.ranges.update(x_range=x_range, y_range=y_range)
        if not self._pending:  # range events queued behind a render are drawn as one, the latest
            self._pending = True
            push(fig, lambda: self._draw(fig))

    def _draw(self, fig) -> None:
        self._pending = False
        vp = viewport(self.ranges.x_range, self.ranges.y_range, self.size.width, self.size.height, self.xy())
        for renderer in fig.renderers:
            layer = self.layers.get(renderer.name)
            if layer is not None:
                renderer.data_source.data = source_data(layer(vp), vp)


def plane_zoom(state, ranges: hv.streams.RangeXY, size: hv.streams.PlotSize, xy: Callable[[], np.ndarray],
               points: hv.DynamicMap, key: dict[str, str], name: str, detail_name: str,
               detail: Callable[[], dict] = dict, layers: dict[str, Layer] | None = None) -> ServedZoom:
    """The :class:`ServedZoom` of a plane drawn as :func:`~aereport.views.plane.shade` and
    :func:`~aereport.views.plane.detail` draw it: the points ``points`` shows now (renderer
    ``name``), and over them the thumbnails or selection (``detail_name``; ``detail()`` gives
    ``detail_pixels``' visible and selected arguments at the time of the zoom), and ``layers``
    above them.

    >>> plane_zoom(state, ranges, size, lambda: xy, shown, color_key(state.dataset), "decoder-raster",
    ...            "decoder-raster-thumbnails")  # doctest: +SKIP
    """
    op = plane_op(key, state.renders)  # the plane's own operation, its cache shared
    return ServedZoom(ranges, size, xy, {
        name: lambda vp: op.pixels(points.last, in_device_pixels(vp)),
        detail_name: lambda vp: bottom_up(detail_pixels(state, xy(), vp, **detail())), **(layers or {})})


def source_data(pixels: np.ndarray | None, vp: Viewport) -> dict:
    """The data of an ``image_rgba`` glyph showing ``pixels`` over the viewport, as HoloViews'
    RGB plot makes it (one transparent pixel for None)."""
    if pixels is None:
        pixels = np.zeros((1, 1), np.uint32)
    return {"image": [pixels], "x": [vp.x0], "y": [vp.y0], "dw": [vp.x1 - vp.x0], "dh": [vp.y1 - vp.y0]}


def in_device_pixels(vp: Viewport) -> Viewport:
    """``vp`` sized in the session's device pixels, as HoloViews' Datashader operations render."""
    ratio = getattr(pn.state.browser_info, "device_pixel_ratio", None)
    ratio = ratio if isinstance(ratio, (int, float)) else 1
    return vp._replace(width=int(vp.width * ratio), height=int(vp.height * ratio))
