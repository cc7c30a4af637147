"""The served report in headless Chromium, driven as a person would: load, switch, tap, train."""
from __future__ import annotations

import time

import numpy as np
import pytest

from aereport.model import decode_at
from aereport.store import Run

from .bokeh_page import (COUNT_REPAINTS, DATA_AT, DRAWN, FRAME_SIZE, LOCATE, PLACE_LABEL, RANGES, READ, SCREEN_AT,
                         TITLE, TITLE_ROOM, TWO_FRAMES)

pytestmark = pytest.mark.browser


def power4(t: float) -> float:
    """GSAP's Power4.easeInOut, the seed's easing."""
    return 16 * t ** 5 if t < 0.5 else 1 - 16 * (1 - t) ** 5


def splat(cols: dict, p: float, shape, colors: list[str]) -> dict[int, int]:
    """The frame a layout transition draws at progress ``p``: {pixel index: RGBA word} of every
    point at its eased position in its label's color, in index order (the last on top), each
    2×2 pixels below 20,000 points."""
    h, w = shape
    u = np.floor((cols["u0"] + (cols["u1"] - cols["u0"]) * p) * w).astype(int)
    v = np.floor((cols["v0"] + (cols["v1"] - cols["v0"]) * p) * h).astype(int)
    dot = 2 if len(u) < 20_000 else 1
    words = [0xFF000000 | int(c[5:7], 16) << 16 | int(c[3:5], 16) << 8 | int(c[1:3], 16) for c in colors]
    out = {}
    for i in np.flatnonzero((u >= 0) & (v >= 0) & (u <= w - dot) & (v <= h - dot)):
        for a in range(dot):
            for b in range(dot):
                out[(h - 1 - v[i] - a) * w + u[i] + b] = words[cols["c"][i]]  # canvas row 0 on top
    return out


def wait_for(page, predicate, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError("condition not met in time")


def tap(page, renderer, fx, fy, changed, attempts=4):
    """Click at (fx, fy) of the plot frame holding ``renderer`` until ``changed()`` says it took.

    The frame is located once its position is stable (a tab that was just opened may still be
    laying out), and the click is repeated if the page was too busy to take it.
    """
    where = None
    for _ in range(attempts):
        for _ in range(20):
            now = page.evaluate(LOCATE, [renderer, fx, fy])
            if now == where:
                break
            where = now
            page.wait_for_timeout(250)
        page.mouse.click(*where)
        try:
            return wait_for(page, changed, timeout=8)
        except AssertionError:
            continue
    raise AssertionError(f"a tap on {renderer} at {fx}, {fy} never took effect")


def open_report(page, url):
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60000)
    wait_for(page, lambda: page.evaluate(READ, "embedding-raster"))


def open_tab(page, tab, renderer):
    """Click ``tab`` and wait until its plot holding ``renderer`` is drawn (a tab is built when
    first opened, and put back in the page when opened again)."""
    page.get_by_text(tab, exact=True).first.click()
    wait_for(page, lambda: page.evaluate(DRAWN, renderer), timeout=60)


def test_page_loads_without_errors_and_switches_layout(served, page):
    url, _ = served
    open_report(page, url)
    before = page.evaluate(READ, "embedding-raster")
    page.get_by_role("button", name="UMAP").click()
    after = wait_for(page, lambda: (d := page.evaluate(READ, "embedding-raster")) and d["x"] != before["x"] and d)
    assert after["image"] != before["image"]
    page.get_by_role("button", name="t-SNE").click()
    wait_for(page, lambda: page.evaluate(READ, "embedding-raster")["x"] != after["x"])
    assert page.errors == []


# Each plot of the page: [its title, its output backend].
BACKENDS = """() => [...Bokeh.documents[0].all_models].filter(m => m.type == 'Figure')
  .map(m => [m.title ? m.title.text : '', m.output_backend])"""


def test_every_plot_draws_on_a_canvas_not_webgl(served, page):
    # HoloViews' default is WebGL; in a browser without a GPU (this one, a VM's, a remote
    # desktop's) each repaint of a WebGL plot blits it through software: a tap cost ~170 ms.
    url, _ = served
    open_report(page, url)
    for tab, renderer in [("Decoder", "decoder-marker"), ("Training", "sample-output"),
                          ("Explore", "explore-ae-detail")]:
        open_tab(page, tab, renderer)
    plots = page.evaluate(BACKENDS)
    assert len(plots) >= 10 and {"Architecture", "Loss (MSE)"} <= {title for title, _ in plots}
    assert [p for p in plots if p[1] != "canvas"] == []
    assert page.errors == []


def test_taps_repaint_the_marker_and_path_alone_not_the_plane_beneath(served, page):
    # The plane's canvas has two layers: the Datashader raster and axes on one, the marker and
    # the path on the other; as glyphs they repainted both at every tap (BENCHMARKS.md, "Session 22").
    url, _ = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    page.wait_for_timeout(500)  # let the tab's first paints settle
    page.evaluate(COUNT_REPAINTS, "decoder-marker")
    for fx, fy in ((0.3, 0.6), (0.6, 0.3)):  # the second tap draws the path from the first
        old = page.evaluate(READ, "decoder-marker")
        tap(page, "decoder-marker", fx, fy, lambda: page.evaluate(READ, "decoder-marker")["x"] != old["x"])
    now = page.evaluate(READ, "decoder-marker")
    # The path runs from the first tap to the second, a dot where it starts.
    ends = wait_for(page, lambda: (line := page.evaluate(READ, "decoder-path-line"))["x"]
                    and line["x"][1] == pytest.approx(now["x"][0]) and line)
    assert ends["x"][0] == pytest.approx(old["x"][0]) and ends["y"] == pytest.approx([old["y"][0], now["y"][0]])
    assert page.evaluate(READ, "decoder-path-start") == {"x": ends["x"][:1], "y": ends["y"][:1]}
    page.wait_for_timeout(500)  # every answer of the server in
    page.evaluate(TWO_FRAMES)
    count = page.evaluate("() => window.repaints['decoder-marker']")
    assert count["primary"] == 0 and count["overlays"] >= 2, count
    assert page.errors == []


def tap_twice(page, url):
    """Open the report's Decoder tab and tap its plane twice: the second tap draws the path."""
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    for fx, fy in ((0.3, 0.6), (0.6, 0.3)):
        old = page.evaluate(READ, "decoder-marker")
        tap(page, "decoder-marker", fx, fy, lambda: page.evaluate(READ, "decoder-marker")["x"] != old["x"])


def assert_shown_whole(page, name, caption: str | None = None):
    """The named image fills a frame of its own shape, to the pixel, under a caption that fits:
    its own, or ``caption`` (a longer one it shows for other samples)."""
    (width, height), (rows, cols) = page.evaluate(FRAME_SIZE, name), page.evaluate(READ, name)["shape"][:2]
    assert abs(width * rows / cols - height) <= 1, (name, width, height, rows, cols)
    text, room = page.evaluate(TITLE_ROOM, [name, caption] if caption else name)
    assert text <= room, (name, caption or page.evaluate(TITLE, name), text, room)


def test_images_keep_their_shape_under_captions_that_fit(served, page):
    # A figure's height includes its title: a titled image was squashed, the path strip's seven
    # 28×28 digits to a quarter of their height. Bokeh cuts off a title longer than its figure.
    tap_twice(page, served[0])
    wait_for(page, lambda: page.evaluate(TITLE, "decoder-path").startswith("path ("))
    for name in ("decoded-image", "decoder-path"):
        assert_shown_whole(page, name)
    open_tab(page, "Training", "sample-output")  # HoloViews elements, not plain figures
    assert_shown_whole(page, "sample-input", "Model input (#69999, label 8)")  # the longest on full MNIST
    assert_shown_whole(page, "sample-output")
    assert page.errors == []


def test_position_inputs_show_a_tap_to_four_decimals_and_keep_it(served, page):
    # A tap's position has 16 digits, which the 120-px boxes cut off; the boxes show four, and
    # stepping through one without typing leaves the position (and its image) as tapped.
    url, _ = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    old = page.evaluate(READ, "decoder-marker")
    marker = tap(page, "decoder-marker", 0.3, 0.6,
                 lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
    boxes = page.locator("input.bk-input")  # the Decoder tab's two: x, then y
    shown = [f"{marker['x'][0]:.4f}", f"{marker['y'][0]:.4f}"]
    wait_for(page, lambda: [boxes.nth(i).input_value() for i in (0, 1)] == shown)
    boxes.nth(0).focus()
    page.keyboard.press("Tab")
    page.wait_for_timeout(500)
    assert page.evaluate(READ, "decoder-marker") == marker
    assert page.errors == []


def test_a_page_gets_its_planes_at_their_size_at_once(served, page):
    # A plane's first render is made before the page reports its plots' sizes: it was always
    # Datashader's 400×400, stretched over the plot and drawn again once the size came in. Now
    # it is at the size the same plane last reported, which for a window like the last visitor's
    # is its own: one render, sharp from the start.
    first_shape = """(name) => {
      for (const m of (window.Bokeh ? Bokeh.documents : []).flatMap((d) => [...d.all_models]))
        if (m.type == 'GlyphRenderer' && m.name == name && m.data_source.data.image)
          return m.data_source.data.image[0].shape; }"""
    url, _ = served
    open_report(page, url)  # this window's sizes reported
    wait_for(page, lambda: page.evaluate(READ, "embedding-raster")["shape"]
             == page.evaluate(FRAME_SIZE, "embedding-raster")[::-1])
    second = page.context.new_page()
    second.goto(url)
    shape = second.wait_for_function(first_shape, arg="embedding-raster", polling="raf", timeout=60000).json_value()
    width, height = second.evaluate(FRAME_SIZE, "embedding-raster")
    assert shape == [height, width]
    second.close()
    assert page.errors == []


def test_switching_layout_clears_the_path_of_the_last_one(served, page):
    from aereport.views.decoder import PATH_PROMPT

    tap_twice(page, served[0])
    wait_for(page, lambda: page.evaluate(READ, "decoder-path-line")["x"])
    page.get_by_role("button", name="UMAP").last.click()  # the Decoder tab's own buttons
    wait_for(page, lambda: page.evaluate(READ, "decoder-path-line") == {"x": [], "y": []}
             and page.evaluate(READ, "decoder-path-start") == {"x": [], "y": []})
    wait_for(page, lambda: page.evaluate(TITLE, "decoder-path") == PATH_PROMPT)
    assert page.errors == []


def test_a_marker_the_view_left_behind_is_not_drawn_over_the_axes(served, page):
    # The marker is on the overlay layer, which Bokeh does not clip to the plane for a glyph; a
    # label it clips. Off the plane, at the y axis's tick labels, the page looks as without it.
    from io import BytesIO

    from PIL import Image

    url, _ = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    page.wait_for_timeout(500)
    x0, x1, y0, y1 = page.evaluate(RANGES, "decoder-marker")

    def seen(fx, visible):
        x, y = x0 + fx * (x1 - x0), (y0 + y1) / 2
        page.evaluate(PLACE_LABEL, ["decoder-marker", x, y, visible])
        page.evaluate(TWO_FRAMES)
        sx, sy = page.evaluate(SCREEN_AT, ["decoder-marker", x, y])
        png = page.screenshot(clip={"x": sx - 15, "y": sy - 15, "width": 30, "height": 30})
        return np.asarray(Image.open(BytesIO(png)).convert("L"), np.int16)

    inside = np.abs(seen(0.5, True) - seen(0.5, False))
    assert (inside > 100).sum() > 20  # on the plane, it is drawn
    assert np.array_equal(seen(-0.02, True), seen(-0.02, False))  # off it, nothing is
    assert page.errors == []


# Keeps the text of every websocket message the page receives, in order, in window.received.
RECORD_RECEIVED = """(() => {
  const Socket = window.WebSocket;
  window.received = [];
  window.WebSocket = function (...args) {
    const socket = new Socket(...args);
    socket.addEventListener('message', (e) => { if (typeof e.data == 'string') window.received.push(e.data); });
    return socket;
  };
  window.WebSocket.prototype = Socket.prototype;
})();"""

# The ids of the decoded image's data source and of the position's number inputs.
TAP_MODELS = """() => {
  const doc = Bokeh.documents[0], out = {inputs: []};
  for (const m of doc.all_models) {
    if (m.type == 'GlyphRenderer' && m.name == 'decoded-image') out.image = m.data_source.id;
    if (m.type == 'Spinner') out.inputs.push(m.id);  // Panel's FloatInput
  }
  return out; }"""


def test_a_tap_s_image_reaches_the_page_before_the_rest_of_its_answer(served, page):
    # The position's inputs cost the server more than the decode; the image is what the reader
    # waits for, so it is written first, as its own message.
    url, _ = served
    page.add_init_script(RECORD_RECEIVED)
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    ids = page.evaluate(TAP_MODELS)
    assert ids.get("image") and len(ids["inputs"]) == 2
    start = page.evaluate(READ, "decoder-marker")
    page.evaluate("() => { window.received.length = 0; }")
    tap(page, "decoder-marker", 0.3, 0.6, lambda: page.evaluate(READ, "decoder-marker")["x"] != start["x"])
    received = wait_for(page, lambda: (r := page.evaluate("() => window.received")) and
                        any(i in m and '"value"' in m for m in r for i in ids["inputs"]) and r)

    def first(pred):
        return next(k for k, m in enumerate(received) if pred(m))
    image = first(lambda m: ids["image"] in m and '"data"' in m)
    inputs = first(lambda m: any(i in m and '"value"' in m for i in ids["inputs"]))
    assert image < inputs, received
    assert page.errors == []


# The plot's ranges and where each named raster lies: [[x0, x1, y0, y1], [{x, y, dw, dh, shape}]].
PLACED = """(names) => {
  const doc = Bokeh.documents[0], layers = [];
  let fig = null;
  for (const name of names) for (const m of doc.all_models)
    if (m.type == 'GlyphRenderer' && m.name == name) {
      const d = m.data_source.data;
      layers.push({x: d.x[0], y: d.y[0], dw: d.dw[0], dh: d.dh[0], shape: d.image[0].shape});
      for (const f of doc.all_models) if (f.type == 'Figure' && f.renderers.includes(m)) fig = f;
    }
  return [[fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end], layers]; }"""


def zoom_in(page, names, until=lambda layers: layers[1]["shape"][0] > 1, timeout=90):
    """Wheel-zoom the plot under the mouse one step at a time, each once the last is drawn, until
    ``until`` holds of its layers (by default: the second one draws thumbnails); at least one step.
    Returns the plot's ranges (x0, x1, y0, y1), which both layers are then drawn for."""
    wheeled = []

    def drawn():
        (x0, x1, y0, y1), layers = page.evaluate(PLACED, names)
        if all(d["x"] == x0 and d["y"] == y0 and d["dw"] == pytest.approx(x1 - x0, rel=1e-9) for d in layers):
            return (x0, x1, y0, y1), layers

    def step():
        now = drawn()
        if now and wheeled and until(now[1]):
            return now[0]
        # The first page's axes may hold a margin its rasters do not: the first step is taken regardless.
        if now or not wheeled:
            page.mouse.wheel(0, -120)
            wheeled.append(time.time())
        return None

    return wait_for(page, step, timeout=timeout)


def assert_drawn_as_holoviews(page, names, state, xy, ranges, visible=None, selected=None):
    """The layers ``names`` (a plane and the layer over it) over ``ranges`` are at the plot's size
    in pixels and, pixel for pixel, what HoloViews renders of the layout ``xy`` there: its points
    shaded by :class:`~aereport.views.plane.shade_plane` and :func:`~aereport.views.plane.detail` over them."""
    import holoviews as hv

    from aereport.sprites import Viewport
    from aereport.views._workarounds import SteadyPlotSize
    from aereport.views.plane import detail, shade_plane, shading
    from aereport.views.style import color_key, frame

    x0, x1, y0, y1 = ranges
    plane, over = (page.evaluate(READ, name) for name in names)
    assert all(d["x"] == [x0] and d["y"] == [y0] for d in (plane, over))  # nothing moved since
    width, height = page.evaluate(FRAME_SIZE, names[0])
    # The plot's size, give or take the few pixels of a reflow the planes ignore (SteadyPlotSize)
    assert plane["shape"] == over["shape"]
    assert plane["shape"] == pytest.approx([height, width], rel=SteadyPlotSize.tolerance)

    def holoviews_draws(element):
        return hv.renderer("bokeh").get_plot(element).handles["source"].data["image"][0]

    df = frame(xy, state.dataset)
    points = hv.Points(df if visible is None else df[visible], ["x", "y"], ["label"])
    h, w = plane["shape"]
    theirs = shade_plane(points, dynamic=False, x_range=(x0, x1), y_range=(y0, y1), width=w, height=h,
                         **shading(color_key(state.dataset)))
    np.testing.assert_array_equal(np.asarray(plane["image"], np.uint32).reshape(h, w), holoviews_draws(theirs))
    theirs = detail(state, xy, Viewport(x0, x1, y0, y1, w, h), names[1], visible=visible, selected=selected)
    np.testing.assert_array_equal(np.asarray(over["image"], np.uint32).reshape(h, w), holoviews_draws(theirs))


def test_a_zoom_draws_what_holoviews_draws_at_the_plots_own_size(served, page):
    """Zoomed in step by step until each sample in view is drawn as its own image: every redraw is
    at the plot's size in pixels (it used to be Datashader's default 400×400, stretched), and the
    server's direct redraw of a zoom (no HoloViews re-render) is, pixel for pixel, HoloViews' own
    render of that viewport: the shaded points and the thumbnails over them. On the Embeddings
    tab's plane and on the Decoder's."""
    from aereport.report import load_state

    url, run_dir = served
    open_report(page, url)
    page.get_by_role("button", name="PCA").click()  # a layout training leaves alone
    state = load_state(str(run_dir))
    xy = state.layouts["pca"]
    wait_for(page, lambda: page.evaluate(READ, "embedding-raster")["dw"][0] == pytest.approx(np.ptp(xy[:, 0]), rel=1e-5))
    page.mouse.move(*page.evaluate(LOCATE, ["embedding-raster", 0.45, 0.55]))
    names = ["embedding-raster", "embedding-raster-thumbnails"]
    assert_drawn_as_holoviews(page, names, state, xy, zoom_in(page, names))

    # The Decoder's plane shows the latent layout (no test before this one trains).
    open_tab(page, "Decoder", "decoder-marker")
    xy = state.layouts["ae"]
    wait_for(page, lambda: page.evaluate(READ, "decoder-raster")["dw"][0] == pytest.approx(np.ptp(xy[:, 0]), rel=1e-5))
    page.mouse.move(*page.evaluate(LOCATE, ["decoder-raster", 0.5, 0.5]))
    names = ["decoder-raster", "decoder-raster-thumbnails"]
    assert_drawn_as_holoviews(page, names, state, xy, zoom_in(page, names))
    assert page.errors == []


def keras_manifold(decoder, layer: dict) -> np.ndarray:
    """What Keras decodes over a manifold raster's extent, as the page's uint32 RGBA, bottom row
    first: the grid's shape read off the raster (28-px images), each cell decoded at its centre."""
    from aereport.latent import manifold_centres, mosaic
    from aereport.views.plane import to_rgba

    h, w = layer["shape"]
    xs, ys = manifold_centres((layer["x"], layer["x"] + layer["dw"], layer["y"], layer["y"] + layer["dh"]),
                              (w // 28, h // 28))
    codes = np.array([[x, y] for y in ys[::-1] for x in xs], np.float32)
    images = np.asarray(decoder.predict_on_batch(codes)).reshape(len(ys), len(xs), 28, 28)
    return np.ascontiguousarray(to_rgba(mosaic(images))[::-1]).view(np.uint32)[..., 0]


def test_the_decoded_manifold_covers_the_viewport_and_follows_zoom(served, page):
    """keras.io's plot_latent_space over the Decoder's plane: a grid of images decoded at the
    centres of its cells, as many as fit the plot at 1.5× their size, re-decoded on every zoom."""
    url, run_dir = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    decoder = Run(run_dir).load_autoencoder().decoder
    names = ["decoder-raster", "decoder-raster-manifold"]
    assert page.evaluate(READ, names[1])["shape"] == [1, 1]  # off by default
    page.locator(".ae-manifold input[type=checkbox]").click()

    def drawn_over_the_view():
        (x0, x1, y0, y1), (_, layer) = page.evaluate(PLACED, names)
        if layer["shape"] != [1, 1] and layer["x"] == x0 and layer["dw"] == pytest.approx(x1 - x0, rel=1e-9):
            return layer

    for step in range(2):
        layer = wait_for(page, drawn_over_the_view)
        width, height = page.evaluate(FRAME_SIZE, names[0])
        assert [layer["shape"][1] // 28, layer["shape"][0] // 28] == [min(24, int(width // 42)), min(24, int(height // 42))]
        image = np.asarray(page.evaluate(READ, names[1])["image"], np.uint32).reshape(layer["shape"])
        expected = keras_manifold(decoder, layer)
        gap = np.abs(image.view(np.uint8).astype(int) - expected.view(np.uint8).astype(int)).max()
        assert gap <= 1, gap  # a rounding to 8 bits apart, at most
        if step == 0:
            page.mouse.move(*page.evaluate(LOCATE, [names[0], 0.3, 0.6]))
            page.mouse.wheel(0, -360)
            wait_for(page, lambda: page.evaluate(PLACED, names)[1][1]["dw"] < layer["dw"] * 0.99)
    page.locator(".ae-manifold input[type=checkbox]").click()
    wait_for(page, lambda: page.evaluate(READ, names[1])["shape"] == [1, 1])
    assert page.errors == []


def test_tap_decodes_exactly_what_keras_decodes(served, page):
    url, run_dir = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    decoder = Run(run_dir).load_autoencoder().decoder
    for fx, fy in [(0.3, 0.6), (0.9, 0.1)]:  # the second far from any sample
        if fx == 0.9:  # away and back: the tab's plots come back into the page, still live
            open_tab(page, "Embeddings", "embedding-raster")
            wait_for(page, lambda: not page.evaluate(DRAWN, "decoder-marker"))
            open_tab(page, "Decoder", "decoder-marker")
        old = page.evaluate(READ, "decoder-marker")
        marker = tap(page, "decoder-marker", fx, fy,
                     lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
        tapped = (marker["x"][0], marker["y"][0])

        def shown():
            d = page.evaluate(READ, "decoded-image")
            img = np.flipud(np.asarray(d["image"], np.float32).reshape(d["shape"]))
            expected = decode_at(decoder, *tapped)
            return bool(np.abs(img - expected).max() <= 1e-5)

        wait_for(page, shown)
    assert page.errors == []


def test_train_button_advances_epochs_and_loss(served, page):
    url, run_dir = served
    open_report(page, url)
    page.get_by_text("Training", exact=True).first.click()
    epochs = int(wait_for(page, lambda: page.locator(".ae-epochs").text_content()))
    loss = page.locator(".ae-loss").text_content()
    page.get_by_role("button", name="Train !").click()
    wait_for(page, lambda: int(page.locator(".ae-epochs").text_content()) == epochs + 1, timeout=120)
    assert page.locator(".ae-loss").text_content() != loss
    assert Run(run_dir).epochs_done == epochs + 1
    page.get_by_role("button", name="Sample !").click()
    assert page.errors == []


def test_panel_serve_app_file(trained_run, page, tmp_path):
    """`panel serve apps/report.py` serves the run named by AEREPORT_RUN."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import ROOT, free_port, wait_for_port

    port = free_port()
    panel = Path(sys.executable).with_name("panel")
    env = {**os.environ, "AEREPORT_RUN": str(trained_run), "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = open(tmp_path / "panel.log", "w")
    proc = subprocess.Popen([str(panel), "serve", str(ROOT / "apps" / "report.py"), "--port", str(port),
                             "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}", "--warm"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(proc, port, tmp_path / "panel.log")
        open_report(page, f"http://127.0.0.1:{port}/report")
        page.get_by_text("aereport — mnist-sample").first.wait_for(timeout=30000)
        assert page.errors == []
    finally:
        proc.terminate()
        proc.wait(20)


def test_rapid_taps_and_taps_off_the_plot(served, page):
    """Thirty taps 20 ms apart end on the last one's image; clicks on the axes change nothing."""
    url, run_dir = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    decoder = Run(run_dir).load_autoencoder().decoder
    start = page.evaluate(READ, "decoder-marker")
    tap(page, "decoder-marker", 0.5, 0.5, lambda: page.evaluate(READ, "decoder-marker")["x"] != start["x"])
    settled = page.evaluate(READ, "decoder-marker")
    (left, top), (right, bottom) = page.evaluate(LOCATE, ["decoder-marker", 0, 0]), \
        page.evaluate(LOCATE, ["decoder-marker", 1, 1])
    for x, y in [(left - 25, (top + bottom) / 2), ((left + right) / 2, bottom + 25), (right + 200, top)]:
        page.mouse.click(x, y)  # the y axis, the x axis, the legend/beyond the frame
    page.wait_for_timeout(1500)
    assert page.evaluate(READ, "decoder-marker") == settled

    rng = np.random.default_rng(1)
    for fx, fy in rng.uniform(0.05, 0.95, (30, 2)):
        where = (left + fx * (right - left), top + fy * (bottom - top))
        page.mouse.click(*where)
        page.wait_for_timeout(20)
    # Where the last click lands in data coordinates. (Not the marker read at once: the server's
    # echo of an earlier tap can still move it before the last tap's own echo puts it back.)
    last = page.evaluate(DATA_AT, ["decoder-marker", *where])

    def settled_on_last():
        m = page.evaluate(READ, "decoder-marker")
        if not np.all(np.abs(np.subtract([m["x"][0], m["y"][0]], last)) <= pixel):  # within a pixel
            return False
        d = page.evaluate(READ, "decoded-image")
        img = np.flipud(np.asarray(d["image"], np.float32).reshape(d["shape"]))
        return bool(np.abs(img - decode_at(decoder, m["x"][0], m["y"][0])).max() <= 1e-5)

    (x0, y0), (x1, y1) = page.evaluate(DATA_AT, ["decoder-marker", left, top]), \
        page.evaluate(DATA_AT, ["decoder-marker", right, bottom])
    pixel = (abs(x1 - x0) / (right - left), abs(y1 - y0) / (bottom - top))  # data units per screen pixel
    try:
        wait_for(page, settled_on_last, timeout=40)
    except AssertionError:
        raise AssertionError(f"after 30 rapid taps the marker is at {page.evaluate(READ, 'decoder-marker')}, the last "
                             f"tap at {last}; page errors: {page.errors}") from None
    assert page.errors == []


@pytest.mark.parametrize("width, height", [(1280, 800), (1920, 1080)])
def test_every_tab_fits_common_windows(served, browser, width, height):
    """No tab of the served report is wider than the window (the Explore tab's note ran 70 px past
    a 1280-px window)."""
    url, _ = served
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(url)
        for tab, renderer in (("Embeddings", "embedding-raster"), ("Decoder", "decoder-raster"),
                              ("Training", "sample-input"), ("Explore", "explore-pca")):
            open_tab(page, tab, renderer)
            page.wait_for_timeout(300)  # the tab laid out
            scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"{tab} is {scroll} px wide in a {inner}-px window"
    finally:
        context.close()


def assert_zoom_stops_at_about_one_point(page, renderer: str, xy: np.ndarray, settle_ms: int = 500) -> None:
    """Sixty wheel steps in, over the middle of the plot holding ``renderer``: its view stops at
    :func:`~aereport.views.plane.min_span` of the layout ``xy``, or a wheel step short of it (a step
    that would pass it is not taken), and that span is no vanishing fraction of the layout."""
    from aereport.views.plane import min_span

    x0, x1, y0, y1 = page.evaluate(RANGES, renderer)
    page.mouse.move(*page.evaluate(SCREEN_AT, [renderer, (x0 + x1) / 2, (y0 + y1) / 2]))
    for _ in range(60):
        page.mouse.wheel(0, -240)
        page.wait_for_timeout(20)
    page.wait_for_timeout(settle_ms)
    x0, x1, y0, y1 = page.evaluate(RANGES, renderer)
    sx, sy = min_span(xy)
    assert sx * (1 - 1e-9) <= x1 - x0 <= sx * 1.25 and sy * (1 - 1e-9) <= y1 - y0 <= sy * 1.25
    assert sx > 1e-4 * np.ptp(xy[:, 0])


def test_zoom_stops_at_about_one_point_in_view(served, page):
    """Sixty wheel steps in: the view stops at a quarter of the points' typical spacing (it went on
    to a 3e-12-wide window of 15-digit ticks)."""
    from aereport.store import Run

    url, run_dir = served
    page.goto(url)
    open_tab(page, "Embeddings", "embedding-raster")
    assert_zoom_stops_at_about_one_point(page, "embedding-raster", Run(run_dir).load_layouts()["ae"]["xy"])
