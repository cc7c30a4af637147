"""The Decoder tab: tap anywhere on a layout and the decoder draws the image for that spot."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import Arrow, CustomJS, Label, TapTool

from ..layouts import LAYOUT_TITLES
from ._base import PlaneView, served
from ._elements import MARKER_STYLE, ON_PLANE_JS, frame, image_figure, image_source_data, push

MARKER = "decoder-marker"

# The marker jumps in the browser the moment the plane is tapped; the server only sends the image.
MOVE_MARKER = ON_PLANE_JS + "if (on_plane) marker.setv({x: cb_obj.x, y: cb_obj.y});"
PATH_PROMPT = "path: tap again to walk from here"
PATH_STYLE = dict(line_dash="dashed", line_width=2, line_color="#444444", level="overlay")
PATH_START_STYLE = dict(MARKER_STYLE, text="\u25cf", text_font_size="13px", text_font_style="normal",
                        text_color="#444444")  # a dot where the path strip starts


def _inside(value: float, bounds) -> bool:
    lo, hi = bounds if None not in bounds else (-np.inf, np.inf)
    return min(lo, hi) <= value <= max(lo, hi)


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
    path_steps = param.Integer(default=7, bounds=(2, 16), constant=True,
                               doc="Images in the path strip: from the previous position to this one, ends included")

    def __init__(self, **params):
        self._markers: list[Label] = []
        self._images: list = []  # (figure, source) of every rendered copy of the decoded image
        self._paths: list = []  # (figure, source) of every path strip
        self._lines: list[tuple[Arrow, Label]] = []  # the path drawn on every rendered plane: line, start
        self._start = None
        self._tapped = False  # within a served tap's callback: see _on_tap
        self._served = False
        super().__init__(**params)
        if "x" not in params and "y" not in params:
            self._centre()
        self._start = (self.x, self.y)  # where the path strip starts: the position before this one

    def _centre(self):
        # Start at the middle of the data rather than an arbitrary origin.
        # One update for both, so the image is decoded once and not for a half-moved position.
        x, y = (float(v) for v in np.median(self.state.layouts[self.layout], axis=0))
        self.param.update(x=x, y=y)

    @param.depends("layout", watch=True)
    def _new_layout(self):
        super()._new_layout()
        # A path lies within one layout: none runs from the last layout's position to this one's.
        self._start = None
        self._centre()
        self._start = (self.x, self.y)
        if self._paths and not self.drag:
            self._show_path(self._start, self._start, drawn=False)

    @param.depends("x", "y", watch=True)
    def _move_markers(self):
        for marker in self._markers:
            if (marker.x, marker.y) != (self.x, self.y):
                push(marker, lambda marker=marker, at=dict(x=self.x, y=self.y): marker.update(**at))

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
                                            code=MOVE_MARKER))
            if self._served:
                # Served: take the tap straight from Bokeh, holding the document lock; HoloViews'
                # Tap stream (used in notebooks) queues each event and sleeps before calling back.
                fig.on_event(event, lambda e, fig=fig: self._on_tap(
                    e.x, e.y, (fig.x_range.start, fig.x_range.end), (fig.y_range.start, fig.y_range.end)))

    @param.depends("x", "y", "layout", "status.version", watch=True)
    def _decode(self):
        pixels, method = self.state.decode_position(self.layout, self.x, self.y)
        data, title = image_source_data(pixels), f"decoded at ({self.x:.4g}, {self.y:.4g})"
        for fig, source in self._images:
            def update(fig=fig, source=source):
                source.data = data
                fig.title.text = title
            push(source, update, now=self._tapped)
        self.method = method  # its text widget syncs at once: after the image

    @param.depends("x", "y", watch=True)
    def _walk(self):
        # The previous position to this one: two taps draw a path; the next tap extends from here.
        start, self._start = self._start, (self.x, self.y)
        if start is not None and self._paths and not self.drag:
            self._show_path(start, (self.x, self.y))

    def path(self, start, end) -> np.ndarray:
        """The path strip: ``path_steps`` images decoded from ``start`` to ``end`` (ends included),
        side by side in one image."""
        from ..sprites import grid

        images = self.state.decode_path(self.layout, start, end, self.path_steps)
        return grid(images, columns=self.path_steps)

    def _show_path(self, start, end, drawn: bool = True):
        """The strip of the path from ``start`` to ``end`` and its line on the planes (hidden when
        not ``drawn``: the strip then waits for the next tap)."""
        data = image_source_data(self.path(start, end))
        title = f"path ({start[0]:.3g}, {start[1]:.3g}) → ({end[0]:.3g}, {end[1]:.3g})" if drawn else PATH_PROMPT
        for fig, source in self._paths:
            def update(fig=fig, source=source):
                source.data = data
                fig.title.text = title
            push(source, update)
        for arrow, dot in self._lines:
            def move(arrow=arrow, dot=dot):
                arrow.update(x_start=start[0], y_start=start[1], x_end=end[0], y_end=end[1], visible=drawn)
                dot.update(x=start[0], y=start[1], visible=drawn)
            push(arrow, move)

    def _image_pane(self) -> pn.pane.Bokeh:
        pixels, self.method = self.state.decode_position(self.layout, self.x, self.y)
        fig, source = image_figure(pixels, "decoded-image", f"decoded at ({self.x:.4g}, {self.y:.4g})",
                                   width=self.image_width)
        self._images.append((fig, source))
        return pn.pane.Bokeh(fig)

    def _path_pane(self) -> list:
        if self.drag:
            return []
        fig, source = image_figure(self.path(self._start, (self.x, self.y)), "decoder-path",
                                   PATH_PROMPT, width=self.image_width)
        self._paths.append((fig, source))
        return [pn.pane.Bokeh(fig), pn.pane.Markdown(
            f"The strip decodes {self.path_steps} evenly spaced positions on the line from the previous "
            "position to this one.", styles={"color": "#555"}, width=self.image_width)]

    def _on_tap(self, x=None, y=None, x_range=None, y_range=None):
        if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
            return
        if x_range is None and self._ranges is not None:  # notebook: the viewport stream knows
            x_range, y_range = self._ranges.x_range, self._ranges.y_range
        if _inside(x, x_range or (None, None)) and _inside(y, y_range or (None, None)):
            # Served, Bokeh calls back holding the document lock: the image is written first, as
            # its own message, and the path strip, position inputs and text follow it (the
            # inputs alone cost the server more than the decode; BENCHMARKS.md "Session 21").
            self._tapped = self._served
            try:
                self.param.update(x=float(x), y=float(y))
            finally:
                self._tapped = False

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        plane = self._plane(self._points, "decoder-raster", hooks=[self._add_marker])
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
        # A text widget, not a Markdown pane: see TrainingView's stats (a pane update re-walks the document).
        method = pn.widgets.StaticText(value=self.param.method, styles={"color": "#555"}, css_classes=["ae-method"],
                                       width=self.image_width)
        return pn.Row(
            pn.Column(pn.Row(buttons, pn.pane.Markdown(
                ("Drag" if self.drag else "Tap") + " anywhere on the plane, even where no image lies: "
                "the decoder turns the position into an image.", margin=(0, 20)), self._pending_layouts()),
                pn.pane.HoloViews(plot, sizing_mode="stretch_both", min_height=480),
                sizing_mode="stretch_both"),
            pn.Column(self._image_pane(), method, inputs, *self._path_pane(), width=self.image_width + 40),
            sizing_mode="stretch_both")
