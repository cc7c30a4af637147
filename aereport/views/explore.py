"""The Explore tab: every layout side by side, linked — select, filter, hover, neighbours."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Label

from ..exploration import GRID_MAX, Exploration
from ..layouts import LAYOUT_TITLES
from ._base import StateView, served
from ._workarounds import CANVAS, SteadyPlotSize, push
from ._zoom import plane_zoom
from .images import image_figure, image_source_data, name_renderer
from .plane import detail, limit_zoom, shade, viewport
from .style import HOVER_MARKER_STYLE, HOVER_PX, color_key, frame
from .transition import extent

__all__ = ["ExploreView", "GRID_MAX"]


class ExploreView(StateView):
    """The autoencoder, UMAP, t-SNE and PCA layouts side by side, linked.

    A box or lasso drawn on any pane selects those samples and highlights them in every pane
    (the rest fade under a veil) and shows them as an image grid; the label filter applies to all
    panes; hovering names the sample under the pointer and shows its image; a tap picks a sample
    and shows its nearest neighbours in pixel space and on each layout, marking the pixel-space
    neighbours on every pane — how faithful is each projection around this point? Zoomed in to
    few enough points, each is drawn as its own image.

    >>> ExploreView(state=ReportState.open("runs/mnist"), labels=["3", "8"])  # doctest: +SKIP
    """

    exploration = param.ClassSelector(class_=Exploration, constant=True, doc="""
        What is explored: the label filter, the selection, the picked and hovered samples
        (made from the other arguments when not given).""")
    plane_version = param.String(default="", precedence=-1,
                                 doc="The model version the 'ae' pane was drawn for")

    def __init__(self, **params):
        given = {k: params.pop(k) for k in ("labels", "selection", "picked", "hovered", "k") if k in params}
        if params.get("exploration") is None:
            params["exploration"] = Exploration(state=params["state"], **given)
        super().__init__(**params)
        ex = self.exploration
        self.layouts = [n for n in LAYOUT_TITLES if n in self.state.layouts]
        self.plane_version = self.status.version
        self._ranges: dict[str, hv.streams.RangeXY] = {}
        self._sizes: dict[str, hv.streams.PlotSize] = {}
        # Each pane's marks: the picked sample and its neighbours (a glyph), the hovered sample (a label).
        self._picked_marks: list[tuple[str, ColumnDataSource]] = []
        self._hover_marks: list[tuple[str, Label]] = []
        self._figures: dict[str, list] = {}  # image figure name -> [(figure, source)]
        self._grid = self._strips = None  # the panes' grid and the strips' column, once drawn
        # The widgets now, not when drawn: what is set before the page is built shows in it.
        self._filter = pn.widgets.CheckButtonGroup.from_param(ex.param.labels, name="")
        self._clear = pn.widgets.Button(label="Clear selection", width=130)
        self._clear.on_click(ex.clear)
        self._download = pn.widgets.FileDownload(callback=self._csv, filename="selection.csv",
                                                 label="Download selection (CSV)", width=200)
        self._picked_input = pn.widgets.IntInput.from_param(ex.param.picked, name="Sample #", width=110,
                                                            start=0, end=len(self.state.dataset) - 1)
        self._hover_text = pn.widgets.StaticText(value=ex.hover_card()[1], css_classes=["ae-hover"])
        self._strip_width = min(40 * (ex.k + 1), 520)

    @param.depends("status.version", "shown", watch=True)
    def _new_model(self):
        # As PlaneView: the 'ae' pane follows the model, and only while the tab is on screen.
        if self.shown and self.plane_version != self.status.version:
            if "ae" in self._ranges:
                self._ranges["ae"].update(x_range=None, y_range=None)
            self.plane_version = self.status.version

    @param.depends("status.layouts_ready", watch=True)
    def _new_layouts(self):
        # A layout computed in the background gets its pane and neighbour strip when it arrives.
        arrived = [n for n in self.status.layouts_ready if n not in self.layouts and n in self.state.layouts]
        if not arrived:
            return
        self.layouts = [n for n in LAYOUT_TITLES if n in self.layouts or n in arrived]
        if self._grid is None:
            return  # not drawn yet: __panel__ draws every layout
        panes = dict(zip(self._grid_layouts, self._grid.objects))
        for name in arrived:
            panes[name] = self._pane_view(name)
            strip, caption = self.exploration.neighbour_strips()[name]
            self._strips.append(self._images(f"neighbours-{name}", strip, caption, width=self._strip_width))
        self._grid_layouts = list(self.layouts)
        self._grid.ncols = 2 if len(self.layouts) == 4 else len(self.layouts)
        self._grid.objects = [panes[n] for n in self.layouts]
        self._plane_row.min_height = self._grid_height()

    def _grid_height(self) -> int:
        return 680 if len(self.layouts) == 4 else 340

    def _pane_view(self, layout: str) -> pn.pane.HoloViews:
        # linked_axes=False: the panes show different layouts, each zooms on its own.
        return pn.pane.HoloViews(self._pane(layout), sizing_mode="stretch_both", min_height=330, linked_axes=False)

    # --- one pane ----------------------------------------------------------------------------
    def _points(self, layout: str, labels: list, plane_version: str = "") -> hv.Points:
        xy = self.state.layouts[layout]
        df, visible = frame(xy, self.state.dataset), self.exploration.visible
        if visible is not None:
            df = df[visible]
        # The whole layout's extent, so a label filter never moves the (framewise) axes.
        x_range, y_range = extent(xy)
        return hv.Points(df, ["x", "y"], ["label"]).redim.range(x=x_range, y=y_range)

    def _detail(self, layout: str, x_range=None, y_range=None, width=None, height=None, **_) -> hv.RGB:
        xy = self.state.layouts[layout]
        return detail(self.state, xy, viewport(x_range, y_range, width, height, xy), f"explore-{layout}-detail",
                      visible=self.exploration.visible, selected=self.exploration.selection)

    def _pane(self, layout: str) -> hv.DynamicMap:
        ranges, size = hv.streams.RangeXY(), SteadyPlotSize(f"explore-{layout}")
        self._ranges[layout], self._sizes[layout] = ranges, size
        ex = self.exploration
        # The 'ae' pane follows the model too.
        model = [hv.streams.Params(self, ["plane_version"])] if layout == "ae" else []
        points = hv.DynamicMap(lambda labels, plane_version="": self._points(layout, labels, plane_version),
                               streams=[hv.streams.Params(ex, ["labels"]), *model])
        key = color_key(self.state.dataset)
        shaded = shade(points, key, ranges, size, self.state.renders)
        detail = hv.DynamicMap(lambda **kw: self._detail(layout, **kw),
                               streams=[ranges, size, hv.streams.Params(ex, ["labels", "selection"]), *model])
        shaded = shaded.opts(hooks=[name_renderer(f"explore-{layout}")], tools=["box_select", "lasso_select", "tap"])
        pane, hooks = shaded * detail, [self._add_markers(layout)]
        if served():
            hooks.append(plane_zoom(self.state, ranges, size, lambda: self.state.layouts[layout], points, key,
                                    f"explore-{layout}", f"explore-{layout}-detail",
                                    lambda: dict(visible=ex.visible, selected=ex.selection)).hook)
        hv.streams.BoundsXY(source=shaded).add_subscriber(
            lambda bounds: bounds and ex.select(layout, box=bounds))
        hv.streams.Lasso(source=shaded).add_subscriber(
            lambda geometry: geometry is not None and len(geometry) > 2 and ex.select(layout, polygon=geometry))
        for stream in (hv.streams.Tap, hv.streams.DoubleTap):
            stream(source=shaded, x=None, y=None).add_subscriber(
                lambda x, y: self._pick(layout, x, y))
        hv.streams.PointerXY(source=shaded, x=None, y=None).add_subscriber(
            lambda x, y: self._hover(layout, x, y))
        # framewise on the rasters (on the overlay it never reaches the plot): the latent pane's
        # axes follow the model as it trains.
        return pane.opts(hv.opts.RGB(framewise=True)).opts(
            responsive=True, min_height=330, title=LAYOUT_TITLES[layout], xlabel="", ylabel="",
            show_legend=False, active_tools=["box_select", "wheel_zoom"], hooks=hooks, **CANVAS)

    def _add_markers(self, layout: str):
        def hook(plot, element):
            fig = plot.state
            limit_zoom(fig, self.state.layouts[layout])
            if any(r.name == f"explore-{layout}-picked" for r in fig.renderers):
                return  # hooks run on every re-render
            source = ColumnDataSource({"x": [], "y": []})
            fig.scatter("x", "y", source=source, name=f"explore-{layout}-picked", marker="circle", size=7,
                        color="black", alpha=0.8)
            hover = Label(x=0, y=0, visible=False, name=f"explore-{layout}-hover", **HOVER_MARKER_STYLE)
            fig.add_layout(hover)  # moved at every hover: a label repaints alone (MARKER_STYLE)
            self._picked_marks.append((layout, source))
            self._hover_marks.append((layout, hover))
            self._move_picked()
            self._move_hover()
        return hook

    # --- pointer -----------------------------------------------------------------------------
    def _near(self, layout: str, x, y) -> int | None:
        """The shown sample within ``HOVER_PX`` screen pixels of ``(x, y)`` on ``layout``, if any."""
        if x is None or y is None:
            return None
        i = self.state.latent.nearest(layout, x, y, self.exploration.visible)
        if i is None:
            return None
        vp = viewport(self._ranges[layout].x_range, self._ranges[layout].y_range,
                      self._sizes[layout].width, self._sizes[layout].height, self.state.layouts[layout])
        if not (vp.width and vp.height):
            return i
        col, row = vp.pixels(np.array([[x, y], self.state.layouts[layout][i]], np.float64))
        return i if np.hypot(col[0] - col[1], row[0] - row[1]) <= HOVER_PX else None

    def _pick(self, layout: str, x, y) -> None:
        i = self._near(layout, x, y)
        if i is not None:
            self.exploration.picked = i

    def _hover(self, layout: str, x, y) -> None:
        i = self._near(layout, x, y)
        if i is not None and i != self.exploration.hovered:
            self.exploration.hovered = i

    @param.depends("exploration.picked", "status.version", watch=True)
    def _move_picked(self):
        picked = self.exploration.picked
        around = self.exploration.neighbours()["pixels"] if picked is not None else []
        index = np.asarray([picked, *around] if picked is not None else [], np.int64)
        for layout, source in self._picked_marks:
            xy = self.state.layouts[layout][index]
            data = {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()}
            push(source, lambda source=source, data=data: setattr(source, "data", data))

    @param.depends("exploration.hovered", "status.version", watch=True)
    def _move_hover(self):
        hovered = self.exploration.hovered
        for layout, label in self._hover_marks:
            if hovered is None:
                place = dict(visible=False)
            else:
                x, y = self.state.layouts[layout][hovered]
                place = dict(x=float(x), y=float(y), visible=True)
            push(label, lambda label=label, place=place: label.update(**place))

    # --- images ------------------------------------------------------------------------------
    def _images(self, name: str, pixels: np.ndarray, title: str, width: int) -> pn.pane.Bokeh:
        fig, source = image_figure(pixels, name, title, width=width)
        self._figures.setdefault(name, []).append((fig, source))
        return pn.pane.Bokeh(fig)

    def _show(self, name: str, pixels: np.ndarray, title: str) -> None:
        data = image_source_data(pixels)
        for fig, source in self._figures.get(name, []):
            def update(fig=fig, source=source):
                source.data = data
                fig.title.text = title
            push(source, update)

    @param.depends("exploration.hovered", watch=True)
    def _update_hover(self):
        image, caption = self.exploration.hover_card()
        self._show("hover-image", image, caption)
        self._hover_text.value = caption

    @param.depends("exploration.selection", watch=True)
    def _update_grid(self):
        self._show("selection-grid", *self.exploration.selection_grid())

    @param.depends("exploration.picked", watch=True)
    def _update_neighbours(self):
        for space, (strip, caption) in self.exploration.neighbour_strips().items():
            self._show(f"neighbours-{space}", strip, caption)

    def _csv(self):
        import io

        return io.StringIO(self.exploration.selection_table().to_csv(index=False))

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        ex = self.exploration
        panes = [self._pane_view(layout) for layout in self.layouts]
        width = 320
        card, caption = ex.hover_card()
        strips = [self._images(f"neighbours-{space}", strip, caption, width=self._strip_width)
                  for space, (strip, caption) in ex.neighbour_strips().items()]
        self._grid = pn.GridBox(*panes, ncols=2 if len(panes) == 4 else len(panes), sizing_mode="stretch_both")
        self._grid_layouts = list(self.layouts)
        self._strips = pn.Column(self._picked_input, *strips)
        self._plane_row = pn.Row(
            self._grid, pn.Column(self._images("hover-image", card, "under the pointer", width=160), self._hover_text,
                                  width=180),
            sizing_mode="stretch_both", min_height=self._grid_height())
        return pn.Column(
            pn.Row(self._filter, self._clear, self._download, pn.pane.Markdown(
                "Drag a box (or pick the lasso) on any pane to select; scroll to zoom; tap a point for "
                "its neighbours; hover for its image.", margin=(0, 20), sizing_mode="stretch_width", min_width=240),
                self._pending_layouts(), sizing_mode="stretch_width"),
            self._plane_row,
            pn.Row(pn.Column(self._images("selection-grid", *ex.selection_grid(), width=width), width=width + 20),
                   self._strips),
            sizing_mode="stretch_both")
