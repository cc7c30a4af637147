"""The Panel components rendered in-process: what each control does to the Bokeh models it drives."""
from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import GlyphRenderer, Label, Plot, Tabs

from aereport.model import decode_at
from aereport.sprites import grid
from aereport.report import Report, load_state
from aereport.views.training import architecture_diagram


@pytest.fixture(scope="module")
def report(trained_run, module_tmp):
    import shutil

    import panel as pn

    run = module_tmp / "run"  # these tests train it further: keep the shared run untouched
    shutil.copytree(trained_run, run)
    r = Report(state=load_state(str(run)))
    root = pn.panel(r).get_root(Document())
    return r, root


# The tab drawing each renderer (by name prefix): only the tab on screen is in the document.
TAB_OF = {"embedding": 0, "decoded": 1, "decoder": 1, "sample": 2, "train": 2, "held-out": 2, "selection": 3}


def renderer(root, name):
    """The renderer ``name``, its tab opened first (as a reader clicks the tab to look at it)."""
    tabs = root.select_one({"type": Tabs})
    tabs.active = next(tab for prefix, tab in TAB_OF.items() if name.startswith(prefix))
    found = [m for m in root.select({"type": GlyphRenderer}) if m.name == name] or \
        [m for m in root.select({"type": Label}) if m.name == name]
    assert found, f"no renderer named {name}"
    return found[-1]


def figure_of(root, name):
    """The figure holding the renderer ``name``."""
    r = renderer(root, name)
    return next(f for f in root.select({"type": Plot}) if r in f.renderers)


def test_layout_buttons_switch_the_raster(report):
    r, root = report
    assert r.embeddings.param.layout.objects == ["ae", "umap", "tsne", "pca"]
    before = renderer(root, "embedding-raster").data_source.data
    before = (np.array(before["image"][0]).copy(), before["x"][0], before["dw"][0])
    fig = figure_of(root, "embedding-raster")
    old_view = (fig.x_range.start, fig.x_range.end)
    r.embeddings.layout = "tsne"
    after = renderer(root, "embedding-raster").data_source.data
    xy = r.state.layouts["tsne"]
    # the raster now spans the t-SNE layout, not the old viewport, and so do the axes
    assert after["x"][0] == pytest.approx(xy[:, 0].min(), rel=1e-3, abs=1e-3)
    assert after["dw"][0] == pytest.approx(np.ptp(xy[:, 0]), rel=1e-2)
    assert not np.array_equal(np.array(after["image"][0]), before[0])
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((xy[:, 0].min(), xy[:, 0].max()), rel=1e-6)
    # the page is sent every point's flight: from the old viewport to the new layout's extent
    flight = renderer(root, "embedding-raster-transition").tags[0].data
    ae = r.state.layouts["ae"]
    np.testing.assert_allclose(flight["u0"], (ae[:, 0] - old_view[0]) / (old_view[1] - old_view[0]), atol=1e-5)
    np.testing.assert_allclose(flight["u1"], (xy[:, 0] - xy[:, 0].min()) / np.ptp(xy[:, 0]), atol=1e-5)
    r.embeddings.layout = "ae"


def test_decoder_shows_exactly_the_decoded_image(report):
    r, root = report
    # A position inside the latent plane (the seed's (10, 50) lies outside some models' planes,
    # where the decoder view clamps it; test_bad_input covers that).
    xy = r.state.layouts["ae"]
    x, y = (float(v) for v in xy.min(axis=0) + 0.3 * (xy.max(axis=0) - xy.min(axis=0)))
    r.decoder.param.update(x=x, y=y)
    data = renderer(root, "decoded-image").data_source.data
    shown = np.flipud(np.asarray(data["image"][0]))  # Bokeh images are stored bottom row first
    np.testing.assert_allclose(shown, decode_at(r.state.ae.decoder, x, y), atol=1e-6)
    marker = renderer(root, "decoder-marker")
    assert (marker.x, marker.y) == (x, y)


def test_a_path_never_runs_from_one_layout_into_another(report):
    from bokeh.models import Arrow

    from aereport.views.decoder import PATH_PROMPT

    r, root = report
    d = r.decoder
    renderer(root, "decoder-marker")  # the Decoder tab open
    line = next(m for m in root.select({"type": Arrow}) if m.name == "decoder-path-line")
    strip = next(f for f in root.select({"type": Plot}) if renderer(root, "decoder-path") in f.renderers)
    ae = r.state.layouts["ae"]
    for i in (0, 1):
        d.param.update(x=float(ae[i, 0]), y=float(ae[i, 1]))
    assert line.visible and (line.x_start, line.x_end) == pytest.approx((ae[0, 0], ae[1, 0]))
    try:
        d.layout = "umap"  # the position moves to UMAP's middle: no path from the latent plane's
        centre = (d.x, d.y)
        assert not line.visible and strip.title.text == PATH_PROMPT
        umap = r.state.layouts["umap"]
        d.param.update(x=float(umap[5, 0]), y=float(umap[5, 1]))  # the next tap walks from the middle
        assert line.visible and (line.x_start, line.y_start) == pytest.approx(centre)
        shown = np.flipud(np.asarray(renderer(root, "decoder-path").data_source.data["image"][0]))
        expected = grid(r.state.latent.path("umap", centre, (d.x, d.y), d.path_steps), columns=d.path_steps)
        np.testing.assert_allclose(shown, expected, atol=1e-6)
    finally:
        d.layout = "ae"


def test_sample_button_shows_input_and_reconstruction(report):
    r, root = report
    r.training.sample_seed = 5
    i, x, y = r.state.sample(5)
    shown = np.flipud(np.asarray(renderer(root, "sample-input").data_source.data["image"][0]))
    np.testing.assert_allclose(shown, x, atol=1e-6)
    out = np.flipud(np.asarray(renderer(root, "sample-output").data_source.data["image"][0]))
    np.testing.assert_allclose(out, y, atol=1e-6)


def test_architecture_diagram_has_a_column_per_layer(report):
    r, _ = report
    overlay = architecture_diagram(r.state.architecture)
    labels = [el for el in overlay if type(el).__name__ == "Labels"][0]
    text = list(labels.dimension_values(2))
    assert len(text) == len(r.state.architecture) == 7
    assert text[0] == "Input\n784" and text[3] == "latent\n2"


def test_training_updates_every_tab(report):
    r, root = report
    r.decoder.param.update(x=1.0, y=-1.0)
    old_plane = np.array(renderer(root, "embedding-raster").data_source.data["image"][0]).copy()
    old_image = np.flipud(np.asarray(renderer(root, "decoded-image").data_source.data["image"][0])).copy()
    epochs = r.status.epoch
    r.state.train_async(1).result(timeout=300)
    r.sync()  # what the session's periodic callback does
    assert r.status.epoch == epochs + 1 and len(r.status.history) == epochs + 1
    new_image = np.flipud(np.asarray(renderer(root, "decoded-image").data_source.data["image"][0]))
    np.testing.assert_allclose(new_image, decode_at(r.state.ae.decoder, 1.0, -1.0), atol=1e-6)
    assert np.abs(new_image - old_image).max() > 1e-4
    new_plane = np.array(renderer(root, "embedding-raster").data_source.data["image"][0])
    assert not np.array_equal(new_plane, old_plane)
    np.testing.assert_allclose(r.state.layouts["ae"], r.state.run.load_layouts()["ae"]["xy"])


def test_plot_size_ignores_reflows_of_a_few_pixels():
    """A 10-px reflow must not re-aggregate the plane; a real resize must."""
    from aereport.views._workarounds import SteadyPlotSize

    size = SteadyPlotSize()
    size.event(width=1230, height=743)
    size.event(width=1230, height=753)
    assert (size.width, size.height) == (1230, 743)
    size.event(width=900, height=753)
    assert (size.width, size.height) == (900, 753)


def test_only_the_tab_on_screen_is_in_the_document(trained_run):
    """A page's document holds the open tab's models only (every plot update of a session ends
    in Bokeh walking the whole document); a tab is built when first opened, and opened again it
    shows the same plots, not a copy."""
    import panel as pn

    root = pn.panel(Report(state=load_state(str(trained_run)))).get_root(Document())
    shown = lambda: {m.name: m for m in root.select({"type": GlyphRenderer}) if m.name}  # noqa: E731
    assert "embedding-raster" in shown() and "decoded-image" not in shown() and "train" not in shown()
    tabs = root.select_one({"type": Tabs})
    tabs.active = 1
    decoder = shown()
    assert "decoded-image" in decoder and "embedding-raster" not in decoder and "train" not in decoder
    tabs.active = 2
    assert "train" in shown() and "decoded-image" not in shown()
    tabs.active = 1
    assert shown()["decoded-image"] is decoder["decoded-image"]


def test_a_tab_s_view_is_made_when_the_tab_is_first_opened(trained_run, monkeypatch):
    """A page makes its first tab's view only: the others' (six Explore plots among them) are
    made when a reader opens them, once."""
    import panel as pn

    from aereport.views import ExploreView, TrainingView

    made = []
    for cls in (TrainingView, ExploreView):
        monkeypatch.setattr(cls, "__panel__", lambda self, f=cls.__panel__: made.append(type(self).__name__) or f(self))
    root = pn.panel(Report(state=load_state(str(trained_run)))).get_root(Document())
    assert made == []
    tabs = root.select_one({"type": Tabs})
    tabs.active = 3
    assert made == ["ExploreView"] and any(m.name == "explore-ae" for m in root.select({"type": GlyphRenderer}))
    tabs.active, tabs.active = 0, 3
    assert made == ["ExploreView"]
    tabs.active = 2
    assert made == ["ExploreView", "TrainingView"]


def test_hidden_tabs_redraw_for_a_new_model_when_shown(report):
    """When a training ends, only the tab on screen redraws; the others catch up when opened."""
    from bokeh.models import Tabs

    r, root = report
    tabs = root.select_one({"type": Tabs})
    plane = renderer(root, "embedding-raster").data_source
    tabs.active = 2  # the Training tab, as a click in the browser sets it
    assert not r.embeddings.shown and not r.decoder.shown and r.training.shown
    before = np.array(plane.data["image"][0]).copy()
    r.state.train_async(1).result(timeout=300)
    r.sync()
    assert r.training.drawn_history == r.status.history  # the loss curve on screen follows
    assert figure_of(root, "train").x_range.end == r.status.history[-1]["epoch"]  # its axes grow
    assert r.embeddings.plane_version != r.status.version
    assert np.array_equal(np.array(plane.data["image"][0]), before)
    tabs.active = 0
    assert r.embeddings.plane_version == r.status.version
    assert not np.array_equal(np.array(renderer(root, "embedding-raster").data_source.data["image"][0]), before)


def test_explore_filter_selection_and_csv(report):
    from bokeh.models import Tabs

    r, root = report
    assert not [m for m in root.select({"type": GlyphRenderer}) if m.name == "selection-grid"]
    root.select_one({"type": Tabs}).active = 3  # Explore is drawn when first opened
    ex = r.explore.exploration  # what the tab shows, set as its pointer would
    xy = r.state.layouts["umap"]
    box = (*np.percentile(xy, 30, axis=0), *np.percentile(xy, 70, axis=0))
    ex.select("umap", box=box)
    inside = (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
    assert ex.selection.tolist() == np.flatnonzero(inside).tolist()
    assert renderer(root, "selection-grid").data_source.data["image"][0].shape == (10 * 29 - 1, 10 * 29 - 1)
    ex.labels = ["3", "8"]  # the filter narrows the selection and every pane
    assert set(r.state.labels[ex.selection]) <= {3, 8} and len(ex.selection) == np.isin(
        r.state.labels[inside], [3, 8]).sum()
    table = ex.selection_table()
    assert table["index"].tolist() == ex.selection.tolist() and set(table["label"]) <= {"3", "8"}
    assert np.allclose(table[["umap_x", "umap_y"]].to_numpy(), xy[ex.selection])
    csv = r.explore._csv().getvalue().splitlines()
    assert csv[0].startswith("index,label,ae_x,ae_y") and len(csv) == len(ex.selection) + 1
    ex.clear()
    assert ex.selection is None
    ex.labels = list(ex.param.labels.objects)


def test_explore_hover_rings_follow_their_sample_when_the_model_retrains(report):
    r, root = report
    root.select_one({"type": Tabs}).active = 3
    ex = r.explore.exploration
    rings = {m.name: m for m in root.select({"type": Label}) if m.name and m.name.endswith("-hover")}
    assert set(rings) == {f"explore-{name}-hover" for name in r.state.layouts} and not any(
        m.visible for m in rings.values())
    i = 7
    ex.hovered = i
    for name, xy in r.state.layouts.items():
        ring = rings[f"explore-{name}-hover"]
        assert ring.visible and (ring.x, ring.y) == pytest.approx(tuple(xy[i]))
    before = tuple(r.state.layouts["ae"][i])
    r.state.train_async(1).result(timeout=300)
    r.sync()
    after = tuple(r.state.layouts["ae"][i])
    assert after != pytest.approx(before)
    assert (rings["explore-ae-hover"].x, rings["explore-ae-hover"].y) == pytest.approx(after)


WARM_CHECK = """
import sys
from numba.core import dispatcher
compiled = []
compile_for_args = dispatcher._DispatcherBase._compile_for_args
def spy(self, *args, **kw):
    compiled.append(self.py_func.__name__)
    return compile_for_args(self, *args, **kw)
dispatcher._DispatcherBase._compile_for_args = spy

import threading
import panel as pn
from bokeh.document import Document
from aereport.report import Report, load_state

state = load_state(sys.argv[1])  # what an app under `panel serve --warm` runs before it listens
for thread in threading.enumerate():
    if thread.name == "warm-up":
        thread.join()
warmed, compiled[:] = list(compiled), []
report = Report(state=state)
pn.panel(report).get_root(Document())
(x0, y0), (x1, y1) = state.layouts["ae"].min(axis=0), state.layouts["ae"].max(axis=0)
report.embeddings._ranges.event(x_range=(float(x0), float(x0 + x1) / 2), y_range=(float(y0), float(y0 + y1) / 2))
print(warmed, compiled)
"""


def test_warm_up_leaves_no_numba_compile_for_the_first_page_or_a_zoom(trained_run):
    # A fresh process: this one has compiled everything long ago.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", WARM_CHECK, str(trained_run)], capture_output=True, text=True,
                         timeout=300, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    warmed, compiled = out.stdout.strip().splitlines()[-1].split("] [")
    assert "extend_cpu" in warmed, warmed  # the spy sees Datashader's aggregation being compiled
    assert compiled.strip("[]") == "", f"compiled while serving the page: {compiled}"


@pytest.mark.parametrize("labelled", [True, False])
def test_shading_only_occupied_pixels_draws_what_holoviews_datashade_draws(mnist_small, labelled):
    """The planes' faster datashade gives HoloViews' datashade's pixels exactly: whole layout, zoomed in,
    a view with no point in it, and an unlabelled dataset (its density ramp is shaded as there)."""
    import holoviews as hv
    from holoviews.operation.datashader import datashade, dynspread

    from aereport.data import Dataset
    from aereport.layouts import PCALayout
    from aereport.views.plane import shade_plane, shading
    from aereport.views.style import color_key, frame

    dataset = mnist_small if labelled else Dataset(images=mnist_small.images, name="unlabelled")
    xy = PCALayout().fit_transform(dataset.images)
    points = hv.Points(frame(xy, dataset), ["x", "y"], ["label"])
    op = shade_plane.instance()
    spread = dict(threshold=op.spread_threshold, max_px=op.spread_px)
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    for view, drawn in ((dict(), True),
                        (dict(x_range=(float(x0), float(x0 + x1) / 2), y_range=(float(y0), float(y0 + y1) / 2)), True),
                        (dict(x_range=(float(x1) + 1, float(x1) + 2), y_range=(float(y1) + 1, float(y1) + 2)), False)):
        args = dict(dynamic=False, width=400, height=260, **view, **shading(color_key(dataset)))
        ours = op(points, **args)  # its spreading included
        theirs = dynspread(datashade(points, **args), dynamic=False, **spread)
        pixels = [np.dstack([rgb.dimension_values(d, flat=False) for d in rgb.vdims]) for rgb in (ours, theirs)]
        assert pixels[1][..., 3].any() == drawn
        np.testing.assert_array_equal(*pixels)
        assert ours.bounds.lbrt() == theirs.bounds.lbrt()


def test_sessions_share_a_render_and_any_change_renders_anew(mnist_small):
    """Two sessions showing the same points over the same viewport share one render; a moved point,
    a label filter, another viewport, size or axis label is rendered anew, and each is what an
    uncached render draws."""
    import holoviews as hv

    from aereport.layouts import PCALayout
    from aereport.cache import RenderCache
    from aereport.views import plane
    from aereport.views.plane import shade_plane, shading
    from aereport.views.style import color_key, frame

    xy = PCALayout().fit_transform(mnist_small.images)
    RENDERS = RenderCache()
    op = shade_plane.with_options(cache=RENDERS)

    def points(xy=xy, keep=None, label="x"):
        df = frame(xy, mnist_small)  # a new frame each time, as each session's DynamicMap makes
        return hv.Points(df if keep is None else df[keep], [hv.Dimension("x", label=label), "y"], ["label"])

    def pixels(rgb):
        return np.dstack([rgb.dimension_values(d, flat=False) for d in rgb.vdims])

    def render(p, **view):
        return op(p, dynamic=False, **{"width": 400, "height": 260, **view}, **shading(color_key(mnist_small)))

    RENDERS.clear()
    first = render(points())
    assert (RENDERS.hits, RENDERS.misses) == (0, 1)
    again = render(points())
    assert (RENDERS.hits, RENDERS.misses) == (1, 1)
    np.testing.assert_array_equal(pixels(again), pixels(first))
    assert again is not first  # each session's own element (HoloViews sets its pipeline) over shared pixels

    moved = xy.copy()
    moved[7] += 0.5
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    changes = {"a point moved": (points(moved), {}), "labels filtered": (points(keep=mnist_small.labels < 5), {}),
               "zoomed": (points(), dict(x_range=(float(x0), float(x1) / 2), y_range=(float(y0), float(y1) / 2))),
               "resized": (points(), dict(width=401)), "axis renamed": (points(label="latent z0"), {})}
    for change, (p, view) in changes.items():
        misses = RENDERS.misses
        rgb = render(p, **view)
        assert RENDERS.misses == misses + 1, change
        # a hit would have been a wrong picture: other pixels, or (renamed) another axis label
        assert (pixels(rgb).shape != pixels(first).shape or not np.array_equal(pixels(rgb), pixels(first))
                or rgb.kdims[0].label != first.kdims[0].label), change
    assert render(points(label="latent z0")).kdims[0].label == "latent z0"

    # One frame rendered again (a zoom, a pan) is hashed once; what is kept of it goes with it.
    import gc

    shown = points()
    hashed = []
    real = plane.columns_digest
    plane.columns_digest = lambda *a: hashed.append(1) or real(*a)
    try:
        for i in range(3):
            render(shown, x_range=(float(x0), float(x1) / (2 + i)), y_range=(float(y0), float(y1)))
        declared = shown.redim.range(x=(float(x0), float(x1) / 3))  # the same frame, another extent
        assert declared.data is shown.data
        misses = RENDERS.misses
        assert pixels(render(declared)).shape and RENDERS.misses == misses + 1
    finally:
        plane.columns_digest = real
    assert len(hashed) == 1
    frame_id = id(shown.data)
    assert frame_id in RENDERS._derived
    del shown, declared
    gc.collect()
    assert frame_id not in RENDERS._derived

    small = RenderCache(max_bytes=3 * pixels(first).nbytes)
    for i in range(5):
        small.put(("view", i), first)
    assert len(small._items) == 3 and small.nbytes <= small.max_bytes
    assert small.get(("view", 0)) is None and small.get(("view", 4)) is first


def test_plane_pixels_are_cached_per_points_viewport_and_colors(mnist_small):
    """A served zoom's plane render is shared: the same points (in a new frame, as each session
    makes) over the same viewport in the same colors are drawn once; a moved point, another
    viewport or another color key is drawn anew, and a hit is what an uncached draw gives."""
    import holoviews as hv

    from aereport.cache import RenderCache
    from aereport.layouts import PCALayout
    from aereport.sprites import Viewport
    from aereport.views.plane import plane_op
    from aereport.views.style import color_key, frame

    RENDERS = RenderCache()

    def plane_pixels(points, vp, key):  # what a served zoom draws: the plane's operation, its cache shared
        return plane_op(key, RENDERS).pixels(points, vp)

    xy = PCALayout().fit_transform(mnist_small.images)
    key = color_key(mnist_small)
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    vp = Viewport(float(x0), float(x1), float(y0), float(y1), 300, 200)

    def points(xy=xy):
        return hv.Points(frame(xy, mnist_small), ["x", "y"], ["label"])

    RENDERS.clear()
    first = plane_pixels(points(), vp, key)
    assert first.shape == (200, 300) and (RENDERS.hits, RENDERS.misses) == (0, 1)
    assert plane_pixels(points(), vp, key) is first and (RENDERS.hits, RENDERS.misses) == (1, 1)
    moved = xy.copy()
    moved[3] += 1.0
    other_key = dict(key, **{next(iter(key)): "#000000"})
    changes = {"a point moved": (points(moved), vp, key), "zoomed": (points(), vp._replace(x1=float(x0 + x1) / 2), key),
               "resized": (points(), vp._replace(width=301), key), "recolored": (points(), vp, other_key)}
    for change, args in changes.items():
        misses = RENDERS.misses
        drawn = plane_pixels(*args)
        assert RENDERS.misses == misses + 1, change
        RENDERS.clear()
        np.testing.assert_array_equal(plane_pixels(*args), drawn, err_msg=change)
    assert plane_pixels(points(), vp._replace(width=0), key) is None  # not laid out: nothing drawn


def test_a_planes_color_mix_runs_blas_on_one_thread(mnist_small, monkeypatch):
    """Datashader mixes a categorical plane's colors with a matrix product: on OpenBLAS's
    threads their idle spin afterwards was 2/3 of a served zoom's CPU, so it runs on the
    calling thread, and the process's threads are back afterwards."""
    import datashader.transfer_functions as tf
    import holoviews as hv
    from threadpoolctl import threadpool_info

    from aereport.layouts import PCALayout
    from aereport.sprites import Viewport
    from aereport.views.plane import plane_op
    from aereport.views.style import color_key, frame

    def blas():
        # NumPy's BLAS, which the product runs on: a wheel's bundled one when there is one (SciPy's,
        # loaded by other tests, is another library), else every BLAS loaded (conda's NumPy and
        # SciPy share one).
        libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        return max(lib["num_threads"] for lib in [lib for lib in libs if "numpy" in lib["filepath"]] or libs)

    default, seen, colorize = blas(), [], tf._colorize
    monkeypatch.setattr(tf, "_colorize", lambda *a, **k: seen.append(blas()) or colorize(*a, **k))
    xy = PCALayout().fit_transform(mnist_small.images)
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    pixels = plane_op(color_key(mnist_small)).pixels(hv.Points(frame(xy, mnist_small), ["x", "y"], ["label"]),
                                                   Viewport(float(x0), float(x1), float(y0), float(y1), 300, 200))
    assert pixels is not None and (pixels >> 24).any()  # drawn, opaque pixels
    assert seen == [1] and blas() == default


def test_a_zoom_before_the_plot_has_a_size_goes_to_holoviews():
    """ServedZoom draws a zoom itself only once the plot has reported its size; before that the
    range event is HoloViews' (its subscribers run), and a range holding no number is ignored."""
    from types import SimpleNamespace

    import holoviews as hv
    from bokeh.plotting import figure

    from aereport.views._zoom import ServedZoom

    ranges, size = hv.streams.RangeXY(), hv.streams.PlotSize()
    seen, drawn = [], []
    ranges.add_subscriber(lambda **kw: seen.append((kw["x_range"], kw["y_range"])))
    fig = figure()
    glyph = fig.image_rgba(image=[np.zeros((1, 1), np.uint32)], x=[0], y=[0], dw=[1], dh=[1], name="plane")
    before = dict(glyph.data_source.data)
    zoom = ServedZoom(ranges, size, lambda: np.array([[0.0, 0.0], [1.0, 1.0]]),
                      {"plane": lambda vp: drawn.append(vp) or np.full((vp.height, vp.width), 7, np.uint32)})
    zoom._zoomed(fig, SimpleNamespace(x0=0.0, x1=2.0, y0=1.0, y1=3.0))
    assert seen == [((0.0, 2.0), (1.0, 3.0))] and drawn == []
    assert glyph.data_source.data["image"] is before["image"]

    size.event(width=40, height=30)
    zoom._zoomed(fig, SimpleNamespace(x0=None, x1=2.0, y0=1.0, y1=3.0))
    zoom._zoomed(fig, SimpleNamespace(x0=float("nan"), x1=2.0, y0=1.0, y1=3.0))
    assert len(seen) == 1 and drawn == []

    zoom._zoomed(fig, SimpleNamespace(x0=0.5, x1=1.5, y0=0.0, y1=1.0))
    assert len(seen) == 1  # drawn here, not rendered again by HoloViews
    assert ranges.x_range == (0.5, 1.5) and ranges.y_range == (0.0, 1.0)
    assert [(vp.x0, vp.x1, vp.y0, vp.y1, vp.width, vp.height) for vp in drawn] == [(0.5, 1.5, 0.0, 1.0, 40, 30)]
    data = glyph.data_source.data
    assert (data["x"], data["y"], data["dw"], data["dh"]) == ([0.5], [0.0], [1.0], [1.0])
    assert data["image"][0].shape == (30, 40) and (data["image"][0] == 7).all()
