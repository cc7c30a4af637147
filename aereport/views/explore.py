"""The Explore tab: every layout side by side, linked — select, filter, hover, neighbours."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Label

from ..layouts import LAYOUT_TITLES
from ..sprites import grid
from ._base import StateView, served
from ._workarounds import CANVAS, SteadyPlotSize, push
from ._zoom import plane_zoom
from .images import image_figure, image_source_data, name_renderer
from .plane import detail, shade, viewport
from .style import HOVER_MARKER_STYLE, HOVER_PX, categories, color_key, frame
from .transition import extent

GRID_MAX = 100  # selected images shown in the grid (evenly spaced over the selection)


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

    labels = param.ListSelector(default=[], doc="The labels shown on every pane")
    selection = param.Array(default=None, allow_None=True, doc="Indices of the selected samples")
    picked = param.Integer(default=None, allow_None=True, doc="The sample whose neighbours are shown")
    hovered = param.Integer(default=None, allow_None=True, doc="The sample under the pointer")
    k = param.Integer(default=8, bounds=(1, 32), constant=True, doc="How many neighbours to show")
    plane_version = param.String(default="", precedence=-1,
                                 doc="The model version the 'ae' pane was drawn for")

    def __init__(self, **params):
        super().__init__(**params)
        names = categories(self.state.dataset)
        self.param.labels.objects = names
        self.param.labels.check_on_set = True  # declared without objects, it would accept anything
        if not self.labels:
            self.labels = list(names)
        self.layouts = [n for n in LAYOUT_TITLES if n in self.state.layouts]
        self.plane_version = self.status.version
        self._ranges: dict[str, hv.streams.RangeXY] = {}
        self._sizes: dict[str, hv.streams.PlotSize] = {}
        # Each pane's marks: the picked sample and its neighbours (a glyph), the hovered sample (a label).
        self._picked_marks: list[tuple[str, ColumnDataSource]] = []
        self._hover_marks: list[tuple[str, Label]] = []
        self._figures: dict[str, list] = {}  # image figure name -> [(figure, source)]
        self._found: tuple = (None, None)  # ((picked, version, layouts), its neighbours)
        self._grid = self._strips = None  # the panes' grid and the strips' column, once drawn

    # --- state -------------------------------------------------------------------------------
    @property
    def visible(self) -> np.ndarray | None:
        """Which samples pass the label filter (None: all)."""
        names = categories(self.state.dataset)
        if self.state.labels is None or set(self.labels) >= set(names):
            return None
        codes = [i for i, n in enumerate(names) if n in self.labels]
        return np.isin(self.state.labels, codes)

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
            strip, caption = self.neighbour_strips()[name]
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

    def select(self, layout: str, box=None, polygon=None) -> None:
        """Select the shown samples inside ``box`` (x0, y0, x1, y1) or ``polygon`` on ``layout``."""
        index = self.state.latent.select(layout, box=box, polygon=polygon)
        visible = self.visible
        self.selection = index if visible is None else index[visible[index]]

    @param.depends("labels", watch=True)
    def _filter_selection(self):
        visible = self.visible
        if self.selection is not None and visible is not None:
            self.selection = self.selection[visible[self.selection]]
        if self.picked is not None and visible is not None and not visible[self.picked]:
            self.picked = None

    # --- one pane ----------------------------------------------------------------------------
    def _points(self, layout: str, labels: list, plane_version: str) -> hv.Points:
        xy = self.state.layouts[layout]
        df, visible = frame(xy, self.state.dataset), self.visible
        if visible is not None:
            df = df[visible]
        # The whole layout's extent, so a label filter never moves the (framewise) axes.
        x_range, y_range = extent(xy)
        return hv.Points(df, ["x", "y"], ["label"]).redim.range(x=x_range, y=y_range)

    def _detail(self, layout: str, x_range=None, y_range=None, width=None, height=None, **_) -> hv.RGB:
        xy = self.state.layouts[layout]
        return detail(self.state, xy, viewport(x_range, y_range, width, height, xy), f"explore-{layout}-detail",
                      visible=self.visible, selected=self.selection)

    def _pane(self, layout: str) -> hv.DynamicMap:
        ranges, size = hv.streams.RangeXY(), SteadyPlotSize(f"explore-{layout}")
        self._ranges[layout], self._sizes[layout] = ranges, size
        follows = ["labels"] + (["plane_version"] if layout == "ae" else [])
        points = hv.DynamicMap(lambda labels, plane_version="": self._points(layout, labels, plane_version),
                               streams=[hv.streams.Params(self, follows)])
        key = color_key(self.state.dataset)
        shaded = shade(points, key, ranges, size, self.state.renders)
        detail = hv.DynamicMap(lambda **kw: self._detail(layout, **kw),
                               streams=[ranges, size, hv.streams.Params(self, follows + ["selection"])])
        shaded = shaded.opts(hooks=[name_renderer(f"explore-{layout}")], tools=["box_select", "lasso_select", "tap"])
        pane, hooks = shaded * detail, [self._add_markers(layout)]
        if served():
            hooks.append(plane_zoom(self.state, ranges, size, lambda: self.state.layouts[layout], points, key,
                                    f"explore-{layout}", f"explore-{layout}-detail",
                                    lambda: dict(visible=self.visible, selected=self.selection)).hook)
        hv.streams.BoundsXY(source=shaded).add_subscriber(
            lambda bounds: bounds and self.select(layout, box=bounds))
        hv.streams.Lasso(source=shaded).add_subscriber(
            lambda geometry: geometry is not None and len(geometry) > 2 and self.select(layout, polygon=geometry))
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
        i = self.state.latent.nearest(layout, x, y, self.visible)
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
            self.picked = i

    def _hover(self, layout: str, x, y) -> None:
        i = self._near(layout, x, y)
        if i is not None and i != self.hovered:
            self.hovered = i

    def _neighbours(self) -> dict[str, np.ndarray]:
        """The picked sample's neighbours (one search per pick and model: markers and strips share it)."""
        key = (self.picked, self.status.version, tuple(self.layouts))
        if self._found[0] != key:
            self._found = (key, self.state.neighbours(self.picked, self.k))
        return self._found[1]

    @param.depends("picked", "status.version", watch=True)
    def _move_picked(self):
        around = self._neighbours()["pixels"] if self.picked is not None else []
        index = np.asarray([self.picked, *around] if self.picked is not None else [], np.int64)
        for layout, source in self._picked_marks:
            xy = self.state.layouts[layout][index]
            data = {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()}
            push(source, lambda source=source, data=data: setattr(source, "data", data))

    @param.depends("hovered", "status.version", watch=True)
    def _move_hover(self):
        for layout, label in self._hover_marks:
            if self.hovered is None:
                place = dict(visible=False)
            else:
                x, y = self.state.layouts[layout][self.hovered]
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

    def _blank(self, n: int = 1) -> np.ndarray:
        return np.ones((n, *self.state.dataset.image_shape), np.float32)

    def hover_card(self) -> tuple[np.ndarray, str]:
        """The hovered sample's image and caption."""
        i = self.hovered
        if i is None:
            return self._blank()[0], "hover over a point"
        return self.state.dataset.images[i], f"#{i} · label {self._label(i)}"

    def selection_grid(self) -> tuple[np.ndarray, str]:
        """Up to ``GRID_MAX`` selected images (evenly spaced over the selection, in index order) in a
        10-column grid, and a caption."""
        sel = self.selection if self.selection is not None else np.zeros(0, np.int64)
        shown = sel[np.unique(np.linspace(0, len(sel) - 1, min(len(sel), GRID_MAX)).round().astype(int))]
        # Always a full grid (blank tiles after the images): the figure keeps one shape.
        images = np.concatenate([self.state.dataset.images[shown], self._blank(GRID_MAX - len(shown))])
        if not len(sel):
            return grid(images), "no selection: drag a box or lasso on any pane"
        more = f" (showing {len(shown)})" if len(shown) < len(sel) else ""
        return grid(images), f"{len(sel):,} selected{more}"

    def neighbour_strips(self) -> dict[str, tuple[np.ndarray, str]]:
        """Per space ('pixels' and each layout): the picked sample and its ``k`` nearest, as one
        strip, and how many of them are also nearest in pixel space."""
        if self.picked is None:
            blank = grid(self._blank(self.k + 1), columns=self.k + 1)
            return {space: (blank, f"{self._space(space)}: tap a point") for space in ["pixels", *self.layouts]}
        found = self._neighbours()
        out = {}
        for space in ["pixels", *self.layouts]:
            strip = grid(self.state.dataset.images[[self.picked, *found[space]]], columns=self.k + 1)
            if space == "pixels":
                caption = f"#{self.picked} (label {self._label(self.picked)}) and its {self.k} nearest in pixel space"
            else:
                shared = len(np.intersect1d(found[space], found["pixels"]))
                caption = f"{self._space(space)}: {shared} of {self.k} are pixel-space neighbours too"
            out[space] = (strip, caption)
        return out

    def _label(self, i: int) -> str:
        return self.state.dataset.label_text(int(self.state.labels[i])) if self.state.labels is not None else "–"

    @staticmethod
    def _space(space: str) -> str:
        return "Pixel space" if space == "pixels" else LAYOUT_TITLES[space]

    @param.depends("hovered", watch=True)
    def _update_hover(self):
        image, caption = self.hover_card()
        self._show("hover-image", image, caption)
        self._hover_text.value = caption

    @param.depends("selection", watch=True)
    def _update_grid(self):
        self._show("selection-grid", *self.selection_grid())

    @param.depends("picked", watch=True)
    def _update_neighbours(self):
        for space, (strip, caption) in self.neighbour_strips().items():
            self._show(f"neighbours-{space}", strip, caption)

    def selection_table(self):
        """The selected samples as a DataFrame: index, label and their position on every layout."""
        import pandas as pd

        index = self.selection if self.selection is not None else np.zeros(0, np.int64)
        columns = {"index": index}
        if self.state.labels is not None:
            columns["label"] = [self._label(i) for i in index]
        for name in self.layouts:
            columns[f"{name}_x"], columns[f"{name}_y"] = self.state.layouts[name][index].T
        return pd.DataFrame(columns)

    def _csv(self):
        import io

        return io.StringIO(self.selection_table().to_csv(index=False))

    def clear(self, event=None) -> None:
        """Drop the selection."""
        self.selection = None

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        panes = [self._pane_view(layout) for layout in self.layouts]
        width = 320
        card, caption = self.hover_card()
        self._hover_text = pn.widgets.StaticText(value=caption, css_classes=["ae-hover"])
        self._strip_width = min(40 * (self.k + 1), 520)
        strips = [self._images(f"neighbours-{space}", strip, caption, width=self._strip_width)
                  for space, (strip, caption) in self.neighbour_strips().items()]
        filter_ = pn.widgets.CheckButtonGroup.from_param(self.param.labels, name="")
        clear = pn.widgets.Button(label="Clear selection", width=130)
        clear.on_click(self.clear)
        download = pn.widgets.FileDownload(callback=self._csv, filename="selection.csv",
                                           label="Download selection (CSV)", width=200)
        picked = pn.widgets.IntInput.from_param(self.param.picked, name="Sample #", width=110,
                                                start=0, end=len(self.state.dataset) - 1)
        self._grid = pn.GridBox(*panes, ncols=2 if len(panes) == 4 else len(panes), sizing_mode="stretch_both")
        self._grid_layouts = list(self.layouts)
        self._strips = pn.Column(picked, *strips)
        self._plane_row = pn.Row(
            self._grid, pn.Column(self._images("hover-image", card, "under the pointer", width=160), self._hover_text,
                                  width=180),
            sizing_mode="stretch_both", min_height=self._grid_height())
        return pn.Column(
            pn.Row(filter_, clear, download, pn.pane.Markdown(
                "Drag a box (or pick the lasso) on any pane to select; scroll to zoom; tap a point for "
                "its neighbours; hover for its image.", margin=(0, 20)), self._pending_layouts()),
            self._plane_row,
            pn.Row(pn.Column(self._images("selection-grid", *self.selection_grid(), width=width), width=width + 20),
                   self._strips),
            sizing_mode="stretch_both")
