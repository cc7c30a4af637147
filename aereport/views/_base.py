"""What every view shares: the run it shows and this session's copy of its training status."""
from __future__ import annotations

import time

import holoviews as hv
import panel as pn
import param
from panel.io.state import set_curdoc

from ..layouts import LAYOUT_TITLES
from ..state import ReportState
from ..status import Status
from ._workarounds import CANVAS, SteadyPlotSize, follow, no_delay, push
from ._zoom import plane_zoom
from .images import bottom_up, name_renderer, raster
from .plane import detail, limit_zoom, shade, sigma_pixels, viewport
from .style import color_key
from .transition import add_transition, transition_data

SYNC_MS = 300  # how often a notebook view polls the shared state (a served one is told)
# A new model redraws every 'ae' plane of a session (~0.1-0.3 s of Datashader at 70k points). All
# sessions share the server's one event loop: redrawing them in one burst queued every tap behind
# the whole burst. One session redraws per gap, so a tap waits for one redraw at most.
REDRAW_GAP_S = 0.25
_last_redraw = [0.0]


class StateView(pn.viewable.Viewer):
    """A view over a shared :class:`ReportState`.

    Inside a :class:`aereport.report.Report` the report hands every tab one ``status``; a view
    used on its own (an app of one figure, a notebook cell) makes its own and keeps it in step
    with the shared state, so training on another thread never touches this session's document.

    >>> EmbeddingsView(state=ReportState.open("runs/mnist"))  # doctest: +SKIP
    """

    state = param.ClassSelector(class_=ReportState, constant=True, doc="The run being shown")
    status = param.ClassSelector(class_=Status, constant=True,
                                 doc="This session's copy of the training status")
    shown = param.Boolean(default=True, precedence=-1,
                          doc="Whether the view is on screen (a report's hidden tabs catch up when shown)")

    def __init__(self, **params):
        self._follow = params.get("status") is None
        if self._follow:
            params["status"] = Status(**params["state"].snapshot())
        super().__init__(**params)
        self._following = False
        self._doc = None
        self._scheduled = False

    def sync(self) -> None:
        """Copy what changed in the shared state into this session's status."""
        # Panel picks cached stylesheets by its own notion of the current document; a callback
        # scheduled into this session must say which one, or a pane update can borrow another
        # session's stylesheet ("Models must be owned by only a single document").
        with set_curdoc(self._doc):
            self._sync()

    def _sync(self) -> None:
        self._scheduled = False
        changed = {k: v for k, v in self.state.snapshot().items() if getattr(self.status, k) != v}
        if "version" in changed:
            now = time.monotonic()
            if now - _last_redraw[0] < REDRAW_GAP_S:
                del changed["version"]  # another session is redrawing: take the next turn
                if self._doc is not None:
                    self._scheduled = True
                    self._doc.add_timeout_callback(self.sync, int(REDRAW_GAP_S * 1000))
            else:
                _last_redraw[0] = now
        if changed:
            self.status.param.update(**changed)

    def _follow_state(self) -> None:
        # Called from __panel__, so the callbacks belong to the session being rendered.
        doc = pn.state.curdoc
        if self._follow and not self._following and doc is not None:
            self._following = True
            if served():
                # Told, not polling: 20 sessions polling 3 times a second kept the server's one
                # event loop a third busy doing nothing. The shared state's watchers run on the
                # training thread; add_next_tick_callback is Bokeh's thread-safe way into a session.
                self._doc = doc
                watcher = self.state.param.watch(self._changed, [k for k in Status.param if k != "name"])
                doc.on_session_destroyed(lambda context: self.state.param.unwatch(watcher))
            else:
                pn.state.add_periodic_callback(self.sync, period=SYNC_MS)
        if served():
            pn.state.onload(no_delay)
            follow(doc)

    def _pending_layouts(self) -> pn.Row:
        """A busy bar and "Computing UMAP in the background…" while layouts are on their way."""
        # The text wraps in the room the row leaves it: a fixed width cut "Computing t-SNE…" off.
        text = pn.widgets.StaticText(css_classes=["ae-layouts-pending"], sizing_mode="stretch_width", min_width=160,
                                     styles={"color": "#555", "white-space": "normal"})
        row = pn.Row(pn.indicators.Progress(active=True, value=-1, width=90, height=14, margin=(12, 5)), text,
                     sizing_mode="stretch_width")

        def update(*_):
            pending = [LAYOUT_TITLES[n] for n in self.status.layouts_pending]
            row.visible = bool(pending)
            text.value = (f"Computing {pending[0]} in the background"
                          + (f" ({', '.join(pending[1:])} next)" if pending[1:] else "")
                          + ": it joins the layouts when ready.") if pending else ""
        update()
        self.status.param.watch(update, "layouts_pending")
        return row

    def _changed(self, *events) -> None:
        if not self._scheduled:
            self._scheduled = True
            try:
                self._doc.add_next_tick_callback(self.sync)
            except Exception:  # the session is closing; its destroy hook removes this watcher
                pass


class PlaneView(StateView):
    """A view drawing one 2-D layout of the whole dataset with Datashader (Embeddings, Decoder).

    Only the autoencoder's own layout moves when the model trains: ``plane_version`` follows the
    model while that layout is shown, so UMAP, t-SNE and PCA planes are never redrawn for it.
    """

    layout = param.Selector(objects=["ae"], doc="Which 2-D layout of the dataset to draw")
    plane_version = param.String(default="", precedence=-1,
                                 doc="The model version the plane was drawn for ('ae' layout only)")

    def __init__(self, **params):
        super().__init__(**params)
        self._offer_layouts()
        self.plane_version = self.status.version
        self._ranges: hv.streams.RangeXY | None = None
        self._transitions: list = []  # (figure, points source) of every rendered plane
        # Watching here, before the plot's streams exist, sees the figure's old viewport.
        self.param.watch(self._transition, "layout")

    @param.depends("status.layouts_ready", watch=True)
    def _offer_layouts(self):
        # Layouts computed in the background join the choice when ready (the selector widget
        # follows the parameter's objects).
        names = [n for n in LAYOUT_TITLES if n in self.status.layouts_ready and n in self.state.layouts]
        # A dict names the buttons; setting names apart from objects would be undone by the latter.
        self.param.layout.objects = {LAYOUT_TITLES[n]: n for n in names}
        if self.layout not in names:
            self.layout = names[0]

    @param.depends("layout", watch=True)
    def _new_layout(self):
        self._forget_viewport()
        if self.layout == "ae":
            # Drawn for the current model by this layout change: no second render for the version.
            with param.discard_events(self):
                self.plane_version = self.status.version

    @param.depends("status.version", "shown", watch=True)
    def _new_model(self):
        # A plane in a hidden tab waits until shown: when a training ends, every session used to
        # redraw both its planes at once, and the server's one event loop kept taps waiting.
        if self.layout == "ae" and self.shown and self.plane_version != self.status.version:
            self._forget_viewport()
            self.plane_version = self.status.version

    def _transition(self, event) -> None:
        # Every point flies from where it is drawn now to where the new layout's plane puts it.
        start, end = self.state.layouts.get(event.old), self.state.layouts.get(event.new)
        if start is None or end is None or start is end:
            return
        for fig, source in self._transitions:
            data = transition_data(start, (fig.x_range.start, fig.x_range.end),
                                   (fig.y_range.start, fig.y_range.end), end, self.state.labels)
            if pn.state.curdoc is not None and pn.state.curdoc is fig.document:
                source.data = data  # this session's callback: sent before the new raster
            else:
                push(source, lambda source=source, data=data: setattr(source, "data", data))

    def _transition_hook(self, name: str):
        """A plot hook adding the plane's animated layout switch (renderer ``name``), and the zoom
        limit of the layout shown (hooks run again on every render: a switch sets it anew)."""
        def hook(plot, element):
            fig = plot.state
            limit_zoom(fig, self.state.layouts[self.layout])
            if not any(r.name == name for r in fig.renderers):  # hooks run on every re-render: add once
                self._transitions.append((fig, add_transition(fig, list(color_key(self.state.dataset).values()), name)))
        return hook

    def _forget_viewport(self):
        # These watchers run before the plot's own stream watchers (registered later, in
        # __panel__), so the next aggregation spans the new extent, not the old viewport.
        if self._ranges is not None:
            self._ranges.update(x_range=None, y_range=None)

    def _plane(self, points, name: str, hooks=(), layers: dict | None = None) -> hv.DynamicMap:
        """Every point of the shown layout, shaded (its renderer named ``name``), under its
        thumbnails when few enough are in view (``{name}-thumbnails``) and, while the layout
        changes, its points flying (``{name}-transition``); ``points(layout, version)`` makes the
        element, ``hooks`` are the plot's own. ``layers``: more rasters on top, ``{renderer name:
        (pixels(viewport) -> H×W×4 uint8 or None, [names of this view's params it follows])}``,
        drawn on first render, zoom and pan alike."""
        self._ranges, size = hv.streams.RangeXY(), SteadyPlotSize(name)
        streams = dict(layout=self.param.layout, version=self.param.plane_version)
        key = color_key(self.state.dataset)
        shown = hv.DynamicMap(points, streams=streams)
        shaded = shade(shown, key, self._ranges, size, self.state.renders)
        params = hv.streams.Params(self, ["layout", "plane_version"])
        detail = hv.DynamicMap(lambda **kw: self._thumbnails(name=f"{name}-thumbnails", **kw),
                               streams=[self._ranges, size, params])
        xy = lambda: self.state.layouts[self.layout]  # noqa: E731
        overlay = shaded.opts(hooks=[name_renderer(name)]) * detail
        if self.state.variational is not None and self.state.direct:  # a VAE's σ on its own plane
            layers = {f"{name}-sigma": (self._sigma, ["plane_version"]), **(layers or {})}
        for layer, (pixels, follows) in (layers or {}).items():
            def element(x_range=None, y_range=None, width=None, height=None, layer=layer, pixels=pixels, **_):
                vp = viewport(x_range, y_range, width, height, xy())
                return raster(pixels(vp), vp, layer)
            overlay = overlay * hv.DynamicMap(element, streams=[self._ranges, size, params,
                                                                hv.streams.Params(self, list(follows))])
        if served():
            zoom = plane_zoom(self.state, self._ranges, size, xy, shown, key, name, f"{name}-thumbnails",
                              layers={layer: (lambda vp, pixels=pixels: bottom_up(pixels(vp)))
                                      for layer, (pixels, _) in (layers or {}).items()})
            hooks = [*hooks, zoom.hook]
        # framewise on the rasters: given to the overlay it never reaches the plot, whose axes then
        # kept the first layout's extent and showed the next one as a speck.
        return overlay.opts(
            hv.opts.RGB(framewise=True)).opts(hooks=[*hooks, self._transition_hook(f"{name}-transition")], **CANVAS)

    def _sigma(self, vp):
        """μ ± σ ellipses of the points in view on the latent plane, once few are (a VAE's)."""
        extras = self.state.variational
        if self.layout != "ae" or extras is None:
            return None
        return sigma_pixels(self.state.layouts["ae"], extras["sigma"], vp)

    def _thumbnails(self, x_range=None, y_range=None, width=None, height=None, name="", **_) -> hv.RGB:
        xy = self.state.layouts[self.layout]
        return detail(self.state, xy, viewport(x_range, y_range, width, height, xy), name)


def served() -> bool:
    """Whether the view is being rendered for a Bokeh server session (not a notebook)."""
    return pn.state.curdoc is not None and pn.state.curdoc.session_context is not None

