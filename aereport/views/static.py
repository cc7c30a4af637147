"""The exported report's Bokeh document: the served tabs as far as a page with no server can go.

Interactions run in the page: the layout buttons swap pre-rendered Datashader rasters (drawn by
the served planes' own operation, :func:`~aereport.views.plane.plane_raster`), and a tap on the
latent plane calls ``window.aereport.decode`` (``js/runtime.js``), which runs the TF.js decoder.
Every callback's code is a file of ``js/``. Every user-provided string (dataset name, labels) is
escaped before it reaches HTML.
"""
from __future__ import annotations

import html

import holoviews as hv
import numpy as np
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import (Button, Checkbox, CheckboxButtonGroup, ColumnDataSource, CustomJS, Div, Label, Legend, LegendItem,
                          RadioButtonGroup, Range1d, TabPanel, Tabs)
from bokeh.plotting import figure
from bokeh.resources import INLINE

from ..latent import field_at, mosaic
from ..layouts import LAYOUT_TITLES
from ..model import reconstruct
from ..sprites import VEIL, png_data_uri
from ..state import ReportState
from ..exploration import GRID_MAX
from .images import image_figure
from .plane import RASTER_PX, limit_zoom, min_span, plane_raster
from .scripts import script
from .style import HOVER_MARKER_STYLE, HOVER_PX, MARKER_STYLE, abgr, categories, color_key
from .training import architecture_diagram, loss_curve
from .transition import add_transition


def _legend(fig, key: dict[str, str]) -> None:
    items = []
    for name, color in key.items():
        r = fig.scatter([np.nan], [np.nan], color=color, size=8)
        items.append(LegendItem(label=name, renderers=[r]))  # a label is data, never markup
    if len(items) > 1:
        fig.add_layout(Legend(items=items, click_policy="none"), "right")


def quantize(xy: np.ndarray, bounds) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) as 16-bit fractions of ``bounds`` (x0, y0, x1, y1), x and y: what the page
    holds of a layout, and reads back with ``position()`` of ``js/math.js`` (within half a step).

    >>> [q.tolist() for q in quantize(np.array([[0.0, 1.0], [0.5, 2.0]]), (0, 1, 1, 2))]
    [[0, 32768], [0, 65535]]
    """
    x0, y0, x1, y1 = bounds
    return (np.round((xy[:, 0] - x0) / (x1 - x0) * 65535).astype(np.uint16),
            np.round((xy[:, 1] - y0) / (y1 - y0) * 65535).astype(np.uint16))


def _fractions(state: ReportState, names: list[str], bounds: list) -> dict[str, np.ndarray]:
    """Each layout's points as uint16 fractions of its raster's bounds, and the label codes."""
    out = {}
    for name, box in zip(names, bounds):
        out[f"{name}_x"], out[f"{name}_y"] = quantize(state.layouts[name], box)
    codes = state.labels if state.labels is not None else np.zeros(len(state.dataset), np.uint8)
    out["c"] = codes.astype(np.uint8 if codes.max(initial=0) < 256 else np.uint16)
    return out


def _embeddings(state: ReportState, rasters: dict):
    titles = [n for n in LAYOUT_TITLES if n in rasters]
    fig = figure(sizing_mode="stretch_width", height=620, tools="pan,wheel_zoom,box_zoom,box_select,lasso_select,reset,save",
                 active_scroll="wheel_zoom", x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                 match_aspect=False)
    renderers, bounds = [], []
    for i, name in enumerate(titles):
        uri, (x0, y0, x1, y1) = rasters[name]
        r = fig.image_url(url=[uri], x=x0, y=y1, w=x1 - x0, h=y1 - y0, anchor="top_left",
                          visible=(i == 0), name=f"raster-{name}")
        renderers.append(r)
        bounds.append([x0, y0, x1, y1])
    fig.x_range.update(start=bounds[0][0], end=bounds[0][2])
    fig.y_range.update(start=bounds[0][1], end=bounds[0][3])
    spans = [min_span(state.layouts[name]) for name in titles]  # each layout's zoom limit (runtime.js)
    limit_zoom(fig, state.layouts[titles[0]])
    key = color_key(state.dataset)
    _legend(fig, key)
    buttons = RadioButtonGroup(labels=[LAYOUT_TITLES[n] for n in titles], active=0, name="layout-buttons")
    # Every layout's points as 16-bit fractions of its raster's bounds (1.5 MB of base64 for 70k
    # points and four layouts): from them the page animates a switch whatever the zoom, finds the
    # sample under the pointer and draws the points a label filter leaves.
    marker = Label(x=0, y=0, visible=False, name="hover-marker", **HOVER_MARKER_STYLE)
    fig.add_layout(marker)
    image_fig, image = image_figure(np.ones(state.dataset.image_shape, np.float32), "hover-image",
                                    "its reconstruction" if state.direct else "decoded at its place", width=160)
    label = Div(text="hover over a point", render_as_text=True, name="hover-label", width=160)
    # The selection's grid: the page holds no images, so it shows what the decoder draws from
    # each selected sample's latent code (its reconstruction, on a 2-D latent plane).
    shape = state.dataset.image_shape
    grid_fig, grid = image_figure(np.ones((1, 1, *shape[2:])), "selection-grid", width=560,
                                  size=(shape[0] * -(-GRID_MAX // GRID_ACROSS), shape[1] * GRID_ACROSS))
    grid_label = Div(text="drag a box (or the lasso) over points to select them", render_as_text=True,
                     name="selection-label", width=560)
    clear = Button(label="Clear selection", name="clear-selection", width=140)
    args = dict(fig=fig, coords=ColumnDataSource(_fractions(state, titles, bounds), name="layout-coords"),
                bounds=bounds, names=titles, rasters=renderers, points=add_transition(fig, list(key.values())),
                palette=abgr(list(key.values())), veiled=abgr([_veiled(c) for c in key.values()]), labels=list(key),
                marker=marker, image=image, label=label, hover_px=HOVER_PX, ae=titles.index("ae"), grid=grid,
                grid_fig=grid_fig, grid_label=grid_label, grid_max=GRID_MAX, grid_across=GRID_ACROSS, spans=spans,
                image_shape=list(shape))
    grid_fig.visible = False  # a white box of the grid's size, until there is a selection to show

    def on(action: str) -> CustomJS:
        return CustomJS(args=dict(a=args, action=action), code=script("explorer_event.js"))

    buttons.js_on_change("active", on("switch"))
    fig.js_on_event("mousemove", on("hover"))
    fig.js_on_event("selectiongeometry", on("select"))
    clear.js_on_event("button_click", on("clear"))
    for r in (fig.x_range, fig.y_range):
        r.js_on_change("start", on("schedule"))
        r.js_on_change("end", on("schedule"))
    controls = [buttons]
    if len(key) > 1:
        filter_ = CheckboxButtonGroup(labels=list(key), active=list(range(len(key))), name="label-filter")
        filter_.js_on_change("active", on("filter"))
        controls.append(filter_)
    note = Div(text=f"{len(state.dataset):,} images of <b>{html.escape(state.dataset.name)}</b>, "
                    f"rendered by Datashader at {RASTER_PX}×{RASTER_PX} px; scroll to zoom.")
    hover = column(image_fig, label, width=180)
    return column(row(*controls, note), row(fig, hover, sizing_mode="stretch_width"),
                  row(grid_fig, column(grid_label, clear)), sizing_mode="stretch_width")


GRID_ACROSS = 10  # images per row of the selection's grid


def _veiled(color: str) -> str:
    """``color`` under the served views' white veil (alpha ``VEIL``), as one opaque color."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * VEIL / 255):02x}" for c in rgb)


def _decoder(state: ReportState, rasters: dict, field: dict | None):
    xy = state.layouts["ae"]
    uri, (x0, y0, x1, y1) = rasters["ae"]
    axes = ("latent z0", "latent z1") if state.direct else ("latent PCA 1", "latent PCA 2")
    plane = figure(sizing_mode="stretch_width", height=560, x_range=Range1d(x0, x1), y_range=Range1d(y0, y1),
                   tools="pan,wheel_zoom,reset", active_scroll="wheel_zoom", x_axis_label=axes[0],
                   y_axis_label=axes[1])
    plane.image_url(url=[uri], x=x0, y=y1, w=x1 - x0, h=y1 - y0, anchor="top_left")
    limit_zoom(plane, xy)
    cx, cy = (float(v) for v in np.median(xy, axis=0))
    marker = Label(x=cx, y=cy, name="decoder-marker", **MARKER_STYLE)
    plane.add_layout(marker)
    _legend(plane, color_key(state.dataset))
    # What the page decodes there: the position itself, or the code the field (its payload) blends.
    code = np.array([cx, cy], np.float32) if field is None else field_at(field, cx, cy)
    pixels = state.latent.decode_codes(code[None])[0]
    image_fig, image_src = image_figure(pixels, "decoded-image", width=300)
    label = Div(text=f"decoded at ({cx:.4g}, {cy:.4g})", name="decoded-label")
    extras = []
    traversal_src = None
    if state.ae.latent_dim > 2:  # each dimension swept alone around the shown code, as served
        tiles = state.latent.traversal(code)
        traversal_fig, traversal_src = image_figure(mosaic(tiles), "decoder-traversal",
                                                    "traversal: −3σ … +3σ", width=300)
        extras.append(traversal_fig)
    plane.js_on_event("tap", CustomJS(args=dict(marker=marker, image=image_src, label=label, xr=plane.x_range,
                                                yr=plane.y_range, traversal=traversal_src),
                                      code=script("decode_tap.js")))
    # The decoded manifold (keras.io's plot_latent_space) over the viewport, decoded in the page.
    h, w = state.dataset.image_shape[:2]
    if state.dataset.image_shape[2:]:
        grid = plane.image_rgba(image=[np.zeros((h, w), np.uint32)], x=x0, y=y0, dw=x1 - x0, dh=y1 - y0,
                                name="decoder-manifold", visible=False)
    else:
        grid = plane.image(image=[np.zeros((h, w), np.float32)], x=x0, y=y0, dw=x1 - x0, dh=y1 - y0,
                           palette="Greys256", name="decoder-manifold", visible=False)
        grid.glyph.color_mapper.update(low=0, high=1)
    box = Checkbox(label="decoded manifold", active=False, name="manifold-box")
    redraw = CustomJS(args=dict(box=box, renderer=grid, plot=plane, xr=plane.x_range, yr=plane.y_range),
                      code=script("manifold_event.js"))
    box.js_on_change("active", redraw)
    plane.js_on_event("rangesupdate", redraw)
    how = "" if state.direct else (f" The {state.ae.latent_dim}-D latent space is shown through its PCA; a tap "
                                   "decodes the blended code of the nearest samples.")
    text = Div(text="Tap anywhere on the plane, even where no image lies: the decoder, running in this "
                    "page with TensorFlow.js, turns the 2-D position into an image." + how)
    return column(row(box, text), row(plane, column(image_fig, label, *extras), sizing_mode="stretch_width"),
                  sizing_mode="stretch_width")


def _training(state: ReportState, samples: int):
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(state.dataset), size=min(samples, len(state.dataset)), replace=False))
    images = state.dataset.images[idx]
    recon = reconstruct(state.ae.model, images)
    grid_in = np.concatenate(list(images), axis=1)
    grid_out = np.concatenate(list(recon), axis=1)
    width = min(900, 110 * len(idx))
    fig_in, _ = image_figure(grid_in, "sample-inputs", "Model input", width=width)
    fig_out, _ = image_figure(grid_out, "sample-outputs", "Model output", width=width)
    diagram = hv.render(architecture_diagram(state.architecture).opts(responsive=False, width=900), backend="bokeh")
    curve = hv.render(loss_curve(state.history).opts(responsive=False, width=900), backend="bokeh") \
        if state.history else Div(text="No training history.")
    # Each in its own row: a column lines up its plots' frames, which pushed the strips right by the
    # diagram's axis width and cut the last image off at the column's edge.
    return column(diagram, row(fig_in), row(fig_out), curve)


def _summary(state: ReportState) -> Div:
    cfg, ds, h = state.run.config, state.dataset, state.history
    rows = [("dataset", ds.name), ("images", f"{len(ds):,} of {'×'.join(map(str, ds.image_shape))}"),
            ("labels", ", ".join(categories(ds)) if ds.labels is not None else "none"),
            ("model", f"preset {cfg.get('preset')}, latent {cfg.get('latent_dim')}-D, "
                      f"{state.ae.model.count_params():,} parameters"),
            ("training", f"by {state.trained_by}" + (f", last loss {h[-1]['loss']:.5f}" if h else ""))]
    if state.message:  # what a damaged run's report was shown without
        rows.append(("notes", state.message))
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return Div(text=f"<table>{body}</table>")


def static_report(state: ReportState, samples: int = 8, field: dict | None = None) -> str:
    """The whole report as an HTML string with Bokeh's JS and CSS inline (no TF.js yet)."""
    # One Datashader pass per layout; the Decoder tab reuses the latent layout's raster.
    rasters = {}
    for name, xy in state.layouts.items():
        rgba, bounds = plane_raster(xy, state.dataset)
        rasters[name] = (png_data_uri(rgba), bounds)
    tabs = Tabs(tabs=[TabPanel(child=_embeddings(state, rasters), title="Embeddings"),
                      TabPanel(child=_decoder(state, rasters, field), title="Decoder"),
                      TabPanel(child=_training(state, samples), title="Training"),
                      TabPanel(child=_summary(state), title="About")], sizing_mode="stretch_width")
    title = f"aereport — {state.dataset.name}"
    header = Div(text=f"<h2>{html.escape(title)}</h2>")
    return file_html(column(header, tabs, sizing_mode="stretch_width"), resources=INLINE, title=title)
