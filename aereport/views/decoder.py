"""The Decoder tab: tap anywhere on a layout and the decoder draws the image for that spot.

The walk of one tap (served): Bokeh calls :meth:`DecoderView._on_tap` with the position (the
marker has already jumped there in the page, ``js/tap_marker.js``); it sets ``x`` and ``y``;
:meth:`DecoderView._decode` — the one function of ``layout``, ``x``, ``y`` and the model's
version — asks the run's :class:`~aereport.latent.LatentMap` for the image and writes it into the
image's source; the :class:`PathStrip` decodes the walk from the previous tap.
"""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import Arrow, CustomJS, Label, TapTool

from ..layouts import LAYOUT_TITLES
from ..latent import mosaic
from ..sprites import grid
from ._base import PlaneView, served
from ._workarounds import push
from .images import image_figure, image_source_data
from .plane import manifold_pixels
from .scripts import script
from .style import MARKER_STYLE, frame

MARKER = "decoder-marker"
PATH_PROMPT = "path: tap again to walk from here"
PATH_STYLE = dict(line_dash="dashed", line_width=2, line_color="#444444", level="overlay")
PATH_START_STYLE = dict(MARKER_STYLE, text="\u25cf", text_font_size="13px", text_font_style="normal",
                        text_color="#444444")  # a dot where the path strip starts


def _inside(value: float, bounds) -> bool:
    lo, hi = bounds if None not in bounds else (-np.inf, np.inf)
    return min(lo, hi) <= value <= max(lo, hi)


PRIOR_ACROSS = 4  # the prior's samples: a 4×4 grid


class Traversal(pn.viewable.Viewer):
    """Latent traversal around a position's code, for codes wider than 2-D: one row per latent
    dimension (the widest-spread first), sweeping it alone from −3σ to +3σ of the dataset's codes.

    >>> Traversal(state=state, layout="ae", at=(0.5, 1.0))  # doctest: +SKIP
    """

    state = param.Parameter(doc="The ReportState whose latent map decodes the traversal")
    layout = param.String(default="ae", doc="The layout the position lies on")
    at = param.NumericTuple(default=(0.0, 0.0), length=2, doc="The position (x, y) whose code is swept")
    steps = param.Integer(default=9, bounds=(3, 21), constant=True, doc="Images per row, from −3σ to +3σ")
    rows = param.Integer(default=8, bounds=(1, 32), constant=True, doc="Latent dimensions swept, at most")
    width = param.Integer(default=280, bounds=(64, None), constant=True, doc="Width of the grid in pixels")

    def __init__(self, **params):
        super().__init__(**params)
        self._figures: list = []

    def _spec(self) -> dict:
        return self.state.latent.traversal_spec(self.steps, most=self.rows)

    def images(self) -> np.ndarray:
        """The traversal as one image: ``rows`` × ``steps`` tiles."""
        code = self.state.latent.code_at(self.layout, *self.at)[0]
        tiles = self.state.latent.traversal(code, self._spec())
        return grid(tiles.reshape(-1, *tiles.shape[2:]), columns=self.steps)

    def _title(self) -> str:
        dims = ", ".join(f"z{d}" for d in self._spec()["dims"])
        return f"traversal of {dims}: −3σ … +3σ"

    @param.depends("layout", "at", watch=True)
    def _draw(self):
        if not self._figures:
            return
        data = image_source_data(self.images())
        for fig, source in self._figures:
            push(source, lambda source=source: setattr(source, "data", data))

    def __panel__(self) -> pn.viewable.Viewable:
        fig, source = image_figure(self.images(), "decoder-traversal", self._title(), width=self.width)
        self._figures.append((fig, source))
        return pn.pane.Bokeh(fig)


class PathStrip(pn.viewable.Viewer):
    """A walk through the latent space: ``steps`` images decoded evenly from ``start`` to ``end``
    on ``layout`` (ends included), side by side; a prompt until it has both ends.

    >>> PathStrip(state=state, layout="ae", start=(0, 0), end=(2, 1))  # doctest: +SKIP
    """

    state = param.Parameter(doc="The ReportState whose latent map decodes the walk")
    layout = param.String(default="ae", doc="The layout the two positions lie on")
    start = param.NumericTuple(default=None, length=2, allow_None=True, doc="Where the walk starts (x, y)")
    end = param.NumericTuple(default=None, length=2, allow_None=True, doc="Where the walk ends (x, y)")
    steps = param.Integer(default=7, bounds=(2, 16), constant=True, doc="Images in the strip, ends included")
    width = param.Integer(default=280, bounds=(64, None), constant=True, doc="Width of the strip in pixels")

    def __init__(self, **params):
        super().__init__(**params)
        self._figures: list = []  # (figure, source) of every rendered copy

    def images(self) -> np.ndarray | None:
        """The strip's pixels (one image of ``steps`` tiles), or None without both ends."""
        if self.start is None or self.end is None:
            return None
        return grid(self.state.latent.path(self.layout, self.start, self.end, self.steps), columns=self.steps)

    def _blank(self) -> np.ndarray:
        return grid(np.ones((self.steps, *self.state.dataset.image_shape), np.float32), columns=self.steps)

    def _title(self) -> str:
        if self.start is None or self.end is None:
            return PATH_PROMPT
        (x0, y0), (x1, y1) = self.start, self.end
        return f"path ({x0:.3g}, {y0:.3g}) → ({x1:.3g}, {y1:.3g})"

    @param.depends("layout", "start", "end", watch=True)
    def _draw(self):
        if not self._figures:
            return
        pixels = self.images()
        data, title = image_source_data(self._blank() if pixels is None else pixels), self._title()
        for fig, source in self._figures:
            def update(fig=fig, source=source):
                source.data = data
                fig.title.text = title
            push(source, update)

    def __panel__(self) -> pn.viewable.Viewable:
        pixels = self.images()
        fig, source = image_figure(self._blank() if pixels is None else pixels, "decoder-path", self._title(),
                                   width=self.width)
        self._figures.append((fig, source))
        return pn.Column(pn.pane.Bokeh(fig), pn.pane.Markdown(
            f"The strip decodes {self.steps} evenly spaced positions on the line from the previous "
            "position to this one.", styles={"color": "#555"}, width=self.width))


class DecoderView(PlaneView):
    """A layout of the dataset; a tap (or typed x, y) decodes that position.

    On the autoencoder's 2-D latent plane the position is the code itself; on any other layout
    (UMAP, t-SNE, PCA, or the 2-D view of a wider latent space) the code is blended from the
    nearest samples' codes, and the panel says so.

    >>> DecoderView(state=ReportState.open("runs/mnist"), x=10, y=50)  # doctest: +SKIP
    """

    x = param.Number(default=0.0, doc="x of the position to decode, in the layout's coordinates")
    y = param.Number(default=0.0, doc="y of the position to decode, in the layout's coordinates")
    method = param.String(default="", doc="How the last image was produced")
    drag = param.Boolean(default=False, doc="Decode continuously while the pointer drags across the "
                                            "plane (the seed's face widget) instead of panning it")
    image_width = param.Integer(default=280, bounds=(64, None), doc="Width of the decoded image in pixels")
    manifold = param.Boolean(default=False, doc="Cover the plane with images decoded over its viewport, "
                                                "redrawn on zoom and pan (keras.io's plot_latent_space)")
    path_steps = param.Integer(default=7, bounds=(2, 16), constant=True,
                               doc="Images in the path strip: from the previous position to this one, ends included")

    def __init__(self, **params):
        self._markers: list[Label] = []
        self._images: list = []  # (figure, source) of every rendered copy of the decoded image
        self._lines: list[tuple[Arrow, Label]] = []  # the path drawn on every rendered plane: line, start
        self._decoded = None  # what the image shows: (layout, x, y, version)
        self._start = None  # where the next walk starts: the position before the next tap
        self._tapped = False  # within a served tap's callback: see _on_tap
        self._served = False
        super().__init__(**params)
        self.strip = PathStrip(state=self.state, layout=self.layout, steps=self.path_steps, width=self.image_width)
        # A code wider than the plane: each dimension swept on its own around the shown position.
        self.traversal = Traversal(state=self.state, layout=self.layout, at=(self.x, self.y),
                                   width=self.image_width) if self.state.ae.latent_dim > 2 else None
        if "x" not in params and "y" not in params:
            self._centre()
        self._start = (self.x, self.y)

    def _centre(self):
        # The middle of the data rather than an arbitrary origin; one update for both.
        x, y = (float(v) for v in np.median(self.state.layouts[self.layout], axis=0))
        self.param.update(x=x, y=y)

    @param.depends("layout", watch=True)
    def _new_layout(self):
        super()._new_layout()
        # A walk lies within one layout: the next starts at the new layout's centre.
        self._start = None
        self._centre()
        self._start = (self.x, self.y)
        self.strip.param.update(layout=self.layout, start=None, end=None)
        self._show_line(None, None)

    @param.depends("layout", "x", "y", "status.version", watch=True)
    def _decode(self):
        # One decode per shown image: a layout switch (which also moves x and y) asks twice.
        key = (self.layout, self.x, self.y, self.status.version)
        if key == self._decoded:  # a layout switch asks twice: for the layout and for the move
            return
        if not self._images:  # nothing drawn yet (_image_pane decodes when it is): only say how
            self.method = self.state.latent.code_at(self.layout, self.x, self.y)[1]
            return
        self._decoded = key
        pixels, method = self.state.latent.decode(self.layout, self.x, self.y)
        data, title = image_source_data(pixels), f"decoded at ({self.x:.4g}, {self.y:.4g})"
        for fig, source in self._images:
            def update(fig=fig, source=source):
                source.data = data
                fig.title.text = title
            push(source, update, now=self._tapped)
        self.method = method  # its text widget syncs at once: after the image

    @param.depends("layout", "x", "y", "status.version", watch=True)
    def _traverse(self):
        if self.traversal is not None:
            self.traversal.param.update(layout=self.layout, at=(self.x, self.y))

    @param.depends("x", "y", watch=True)
    def _walk(self):
        # From the previous position to this one: two taps draw a walk; the next extends from here.
        start, self._start = self._start, (self.x, self.y)
        for marker in self._markers:
            if (marker.x, marker.y) != (self.x, self.y):
                push(marker, lambda marker=marker, at=dict(x=self.x, y=self.y): marker.update(**at))
        if start is not None and not self.drag:
            self.strip.param.update(layout=self.layout, start=start, end=(self.x, self.y))
            self._show_line(start, (self.x, self.y))

    def _show_line(self, start, end):
        """The walk's line and its start dot on every rendered plane (hidden without a walk)."""
        for arrow, dot in self._lines:
            def move(arrow=arrow, dot=dot):
                if start is None:
                    arrow.visible = dot.visible = False
                    return
                arrow.update(x_start=start[0], y_start=start[1], x_end=end[0], y_end=end[1], visible=True)
                dot.update(x=start[0], y=start[1], visible=True)
            push(arrow, move)

    def _points(self, layout: str, version: str) -> hv.Points:
        if layout == "ae" and self.state.direct:
            names = ("latent z0", "latent z1")
        else:
            names = (f"{LAYOUT_TITLES[layout]} x", f"{LAYOUT_TITLES[layout]} y")
        kdims = [hv.Dimension("x", label=names[0]), hv.Dimension("y", label=names[1])]
        return hv.Points(frame(self.state.layouts[layout], self.state.dataset), kdims, ["label"])

    def _add_marker(self, plot, element):
        """Plot hook: a marker moved by a browser-side tap callback, so a tap never re-renders
        the Datashader plane (hooks run again on every re-render: add once)."""
        fig = plot.state
        if any(r.name == MARKER for r in fig.center):
            return
        marker = Label(x=self.x, y=self.y, name=MARKER, **MARKER_STYLE)
        self._markers.append(marker)
        if not self.drag:
            # Annotations on the overlay layer, as the marker: a tap repaints none of the plane.
            line = Arrow(x_start=self.x, y_start=self.y, x_end=self.x, y_end=self.y, start=None, end=None,
                         visible=False, name="decoder-path-line", **PATH_STYLE)
            start = Label(x=self.x, y=self.y, visible=False, name="decoder-path-start", **PATH_START_STYLE)
            self._lines.append((line, start))
            fig.add_layout(line)
            fig.add_layout(start)
        fig.add_layout(marker)
        if self._served:
            # The tap tool would select the raster's pixel under each tap: four more messages to
            # the server before the tap's own, which nothing here reads.
            for tool in fig.select(type=TapTool):
                tool.renderers = []
        # Bokeh reports the second of two quick taps as a double tap: both are taps here.
        for event in ("tap", "doubletap") + (("pan",) if self.drag else ()):
            fig.js_on_event(event, CustomJS(args=dict(marker=marker, xr=fig.x_range, yr=fig.y_range),
                                            code=script("tap_marker.js")))
            if self._served:
                # Served: take the tap straight from Bokeh, holding the document lock; HoloViews'
                # Tap stream (used in notebooks) queues each event and sleeps before calling back.
                fig.on_event(event, lambda e, fig=fig: self._on_tap(
                    e.x, e.y, (fig.x_range.start, fig.x_range.end), (fig.y_range.start, fig.y_range.end)))

    def _on_tap(self, x=None, y=None, x_range=None, y_range=None):
        if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
            return
        if x_range is None and self._ranges is not None:  # notebook: the viewport stream knows
            x_range, y_range = self._ranges.x_range, self._ranges.y_range
        if _inside(x, x_range or (None, None)) and _inside(y, y_range or (None, None)):
            # Served, Bokeh calls back holding the document lock: the image is written first, as
            # its own message, and the path strip, position inputs and text follow it (the
            # inputs alone cost the server more than the decode; BENCHMARKS.md "Tap latency").
            self._tapped = self._served
            try:
                self.param.update(x=float(x), y=float(y))
            finally:
                self._tapped = False

    def _image_pane(self) -> pn.pane.Bokeh:
        pixels, self.method = self.state.latent.decode(self.layout, self.x, self.y)
        self._decoded = (self.layout, self.x, self.y, self.status.version)
        fig, source = image_figure(pixels, "decoded-image", f"decoded at ({self.x:.4g}, {self.y:.4g})",
                                   width=self.image_width)
        self._images.append((fig, source))
        return pn.pane.Bokeh(fig)

    def _prior(self) -> list:
        """A VAE's generator at work: a grid of images decoded from codes drawn from the prior
        N(0, I), drawn anew on each click (nothing for another autoencoder)."""
        if self.state.variational is None:
            return []
        seed = [0]

        def pixels():
            return mosaic(self.state.prior_samples(PRIOR_ACROSS ** 2, seed[0]).reshape(
                PRIOR_ACROSS, PRIOR_ACROSS, *self.state.dataset.image_shape))

        fig, source = image_figure(pixels(), "prior-samples", "samples of the prior N(0, I)", width=self.image_width)
        button = pn.widgets.Button(label="Sample the prior !", color="success", width=160)

        def resample(event):
            seed[0] += 1
            source.data = image_source_data(pixels())
        button.on_click(resample)
        return [pn.pane.Bokeh(fig), button]

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        manifold = lambda vp: manifold_pixels(self.state, self.layout, vp) if self.manifold else None  # noqa: E731
        plane = self._plane(self._points, "decoder-raster", hooks=[self._add_marker],
                            layers={"decoder-raster-manifold": (manifold, ["manifold"])})
        self._served = served()
        if not self._served:
            streams = (hv.streams.Tap, hv.streams.DoubleTap) + ((hv.streams.Draw,) if self.drag else ())
            for stream in streams:
                stream(source=plane, x=None, y=None).add_subscriber(self._on_tap)
        # Dragging decodes, so the drag gesture must not also pan: keep zoom on the wheel only.
        tools = dict(default_tools=["wheel_zoom", "reset"], tools=[], active_tools=["wheel_zoom"]) \
            if self.drag else dict(tools=["tap"], active_tools=["wheel_zoom"])
        # The tools belong on the rasters: an overlay's own list adds to its elements' defaults.
        plot = plane.opts(hv.opts.RGB(**tools)).opts(responsive=True, min_height=480,
                                                    legend_position="right")
        # Shown to 4 decimals (a tap's position has 16 digits, cut off by the box); the value
        # keeps them, and a typed one is taken as typed.
        inputs = pn.Row(*(pn.widgets.FloatInput.from_param(self.param[axis], name=axis, width=120, format="0.0000")
                          for axis in ("x", "y")))
        buttons = pn.widgets.RadioButtonGroup.from_param(self.param.layout, color="primary", label="")
        manifold_box = pn.widgets.Checkbox.from_param(self.param.manifold, name="decoded manifold", width=150,
                                              css_classes=["ae-manifold"])
        # A text widget, not a Markdown pane: see TrainingView's stats (a pane update re-walks the document).
        method = pn.widgets.StaticText(value=self.param.method, styles={"color": "#555"}, css_classes=["ae-method"],
                                       width=self.image_width)
        return pn.Row(
            pn.Column(pn.Row(buttons, manifold_box, pn.pane.Markdown(
                ("Drag" if self.drag else "Tap") + " anywhere on the plane, even where no image lies: "
                "the decoder turns the position into an image.", margin=(0, 20)), self._pending_layouts()),
                pn.pane.HoloViews(plot, sizing_mode="stretch_both", min_height=480),
                sizing_mode="stretch_both"),
            pn.Column(self._image_pane(), method, inputs, *([] if self.drag else [self.strip]),
                      *([self.traversal] if self.traversal is not None else []), *self._prior(),
                      width=self.image_width + 40),
            sizing_mode="stretch_both")
