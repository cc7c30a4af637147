"""The exported report, opened from file:// in Chromium with every network request blocked."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from aereport.export import export_report
from aereport.layouts import LAYOUT_TITLES
from aereport.model import decode_at
from aereport.runs import dataset_for
from aereport.store import Run
from aereport.views.style import color_key

from .conftest import aereport
from .bokeh_page import COUNT_REPAINTS, FRAME_SIZE, LOCATE, MID_FLIGHT, RANGES, READ, TRANSITION_SHOWN, TWO_FRAMES
from .test_browser import assert_shown_whole, assert_zoom_stops_at_about_one_point, power4, splat, tap, wait_for

pytestmark = pytest.mark.browser
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def exported(trained_run, module_tmp):
    out = module_tmp / "report.html"
    assert export_report(trained_run, out) == out
    return out


# Whether the figure of the exported selection grid is shown.
GRID_SHOWN = """() => {
  const models = [...Bokeh.documents[0].all_models], r = models.find((m) => m.name === 'selection-grid');
  return models.find((m) => m.renderers && m.renderers.includes(r)).visible;
}"""


def open_offline(browser, path, viewport=(1400, 1000)):
    """Open ``path`` with every request that is not file:, data: or blob: blocked and counted."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    blocked, errors, dialogs = [], [], []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && window.aereport", timeout=60000)
    return context, page, blocked, errors, dialogs


def test_single_file_size_and_contents(exported):
    text = exported.read_text()
    assert exported.stat().st_size < 8e6
    assert "Content-Security-Policy" in text and '<script type="application/json" id="aereport-decoder">' in text
    # nothing is linked: every script and style is inline (the offline test counts requests)
    assert "<script src=" not in text and '<link rel="stylesheet"' not in text


def test_offline_tap_decodes_like_keras_and_buttons_switch(exported, browser, trained_run):
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        visible = lambda: page.evaluate("""() => { const out = {};
            for (const m of Bokeh.documents[0].all_models)
              if (m.type == 'GlyphRenderer' && m.name && m.name.startsWith('raster-')) out[m.name] = m.visible;
            return out; }""")
        assert visible() == {"raster-ae": True, "raster-umap": False, "raster-tsne": False, "raster-pca": False}
        before = page.evaluate(RANGES, "raster-ae")
        page.get_by_role("button", name="UMAP").click()
        # The points fly from the autoencoder's raster to UMAP's, as in the served report.
        frame = page.evaluate(MID_FLIGHT, "layout-transition")
        assert "missed" not in frame, frame
        wait_for(page, lambda: visible()["raster-umap"] and not visible()["raster-ae"])
        after = page.evaluate(RANGES, "raster-umap")
        run = Run(trained_run)
        layouts, dataset = run.load_layouts(), dataset_for(run)
        ae, umap = (np.asarray(layouts[k]["xy"], np.float64) for k in ("ae", "umap"))
        cols = {k: np.asarray(v) for k, v in frame["cols"].items()}
        for (x0, x1, y0, y1), xy, u, v in ((before, ae, "u0", "v0"), (after, umap, "u1", "v1")):
            np.testing.assert_allclose(cols[u], (xy[:, 0] - x0) / (x1 - x0), atol=3e-5)
            np.testing.assert_allclose(cols[v], (xy[:, 1] - y0) / (y1 - y0), atol=3e-5)
        np.testing.assert_array_equal(cols["c"], dataset.labels)
        assert frame["p"] == pytest.approx(power4(frame["t"]), abs=1e-12)
        assert dict(zip(frame["idx"], frame["col"])) == splat(cols, frame["p"], frame["shape"],
                                                              list(color_key(dataset).values()))
        wait_for(page, lambda: page.evaluate("() => window.aereportTransitions['layout-transition'].done"))
        assert frame["shown"] and not page.evaluate(TRANSITION_SHOWN, "layout-transition")

        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        decoder = Run(trained_run).load_autoencoder().decoder
        for fx, fy in [(0.4, 0.5), (0.95, 0.05)]:
            old = page.evaluate(READ, "decoder-marker")
            marker = tap(page, "decoder-marker", fx, fy,
                         lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
            data = page.evaluate(READ, "decoded-image")
            shown = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
            np.testing.assert_allclose(shown, decode_at(decoder, marker["x"][0], marker["y"][0]), atol=1e-5)
        assert_shown_whole(page, "decoded-image")
        page.get_by_text("Training", exact=True).first.click()
        for name in ("sample-inputs", "sample-outputs"):  # titled strips of images, squashed once
            wait_for(page, lambda: page.evaluate(FRAME_SIZE, name))
            assert_shown_whole(page, name)
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_offline_hover_and_tap_repaint_their_marker_alone(exported, browser):
    """Each marker is a label on its plot's overlay layer: following the pointer or a tap repaints
    that layer, never the plane's raster and points beneath it (as a glyph did, at every move)."""
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        page.wait_for_timeout(500)  # the first paints
        page.evaluate(COUNT_REPAINTS, "hover-marker")
        x0, y0 = page.evaluate(LOCATE, ["hover-marker", 0.45, 0.5])
        x1, _ = page.evaluate(LOCATE, ["hover-marker", 0.55, 0.5])
        for k in range(11):  # across the middle of the plane, where the points are
            page.mouse.move(x0 + (x1 - x0) * k / 10, y0)
        wait_for(page, lambda: page.evaluate(READ, "hover-marker")["x"])
        page.evaluate(TWO_FRAMES)
        hover = page.evaluate("() => window.repaints['hover-marker']")
        assert hover["primary"] == 0 and hover["overlays"] >= 1, hover

        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        page.evaluate(COUNT_REPAINTS, "decoder-marker")
        old = page.evaluate(READ, "decoder-marker")
        tap(page, "decoder-marker", 0.3, 0.6, lambda: page.evaluate(READ, "decoder-marker")["x"] != old["x"])
        page.evaluate(TWO_FRAMES)
        decoder = page.evaluate("() => window.repaints['decoder-marker']")
        assert decoder["primary"] == 0 and decoder["overlays"] >= 1, decoder
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_offline_tap_on_an_axis_decodes_nothing(exported, browser):
    """Bokeh reports a tap on the axes at a position off the plane; the page decodes taps on it only."""
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        before, text = page.evaluate(READ, "decoder-marker"), page.evaluate(MODEL_TEXT, "decoded-label")
        x, y = page.evaluate(LOCATE, ["decoder-marker", 0.5, 1.0])
        page.mouse.click(x, y + 15)  # on the x axis's tick labels
        page.wait_for_timeout(1000)
        assert page.evaluate(READ, "decoder-marker") == before
        assert page.evaluate(MODEL_TEXT, "decoded-label") == text
        x, y = page.evaluate(LOCATE, ["decoder-marker", 0.5, 0.5])
        page.mouse.click(x, y)  # and the plane still decodes
        wait_for(page, lambda: page.evaluate(MODEL_TEXT, "decoded-label") != text)
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_labels_and_names_are_escaped(tmp_path, browser):
    root = tmp_path / EVIL.replace("/", "")
    for cls in (EVIL, "plain"):
        (root / cls).mkdir(parents=True)
        for i in range(15):
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8), np.uint8)).save(root / cls / f"{i}.png")
    run = tmp_path / "run"
    aereport("train", "--run", run, "--dataset", "folder", "--path", root, "--epochs", 1, "--layouts", "ae,pca")
    out = tmp_path / "evil.html"
    aereport("export", run, out)
    context, page, blocked, errors, dialogs = open_offline(browser, out)
    try:
        page.get_by_text("About", exact=True).first.click()
        page.get_by_text(EVIL, exact=False).first.wait_for(timeout=10000)
        page.wait_for_timeout(500)
        assert dialogs == [] and blocked == [] and errors == []
    finally:
        context.close()


def test_dir_format(trained_run, tmp_path):
    target = export_report(trained_run, tmp_path / "site", fmt="dir")
    assert target.name == "index.html"
    assert {p.name for p in (tmp_path / "site").iterdir()} >= {"index.html", "decoder", "tf.min.js"}
    assert (tmp_path / "site" / "decoder" / "model.json").is_file()


def test_wide_latent_report_decodes_offline_through_its_field(mnist_small, browser, tmp_path):
    """A user's model with a 16-D code, exported from explore(): a tap blends the field's codes in
    the page and TF.js decodes exactly what Keras decodes from the same blend."""
    import keras

    import aereport
    from aereport.latent import field_at, mosaic, traversal_codes

    keras.utils.set_random_seed(1)
    enc = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(16)])
    dec = keras.Sequential([keras.Input((16,)), keras.layers.Dense(784, activation="sigmoid"),
                            keras.layers.Reshape((28, 28))])
    report = aereport.explore(mnist_small.images[:1000], mnist_small.labels[:1000], encoder=enc, decoder=dec,
                              layouts=("ae",), run_dir=tmp_path / "wide")
    out = report.export(tmp_path / "wide.html")
    field = report.state.latent.field("ae")
    context, page, blocked, errors, _ = open_offline(browser, out)
    try:
        assert_shown_whole(page, "hover-image")  # its caption says where the image is decoded
        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        old = page.evaluate(READ, "decoder-marker")
        marker = tap(page, "decoder-marker", 0.35, 0.6,
                     lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
        data = page.evaluate(READ, "decoded-image")
        shown = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
        z = field_at(field, marker["x"][0], marker["y"][0])
        np.testing.assert_allclose(shown, dec(z[None]).numpy()[0], atol=1e-5)
        # the traversal around that code: each of the 8 widest dimensions swept alone, ±3σ
        latent = report.state.latent
        dims = np.argsort(-latent.codes.std(axis=0), kind="stable")[:8]  # the 8 widest-spread
        codes = traversal_codes(z, latent.codes.std(axis=0)[dims], dims, 9, 3.0)
        expected = mosaic(dec(codes).numpy().reshape(8, 9, 28, 28))

        def traversed():
            data = page.evaluate(READ, "decoder-traversal")
            image = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
            return image.shape == expected.shape and np.abs(image - expected).max() <= 1e-5

        wait_for(page, traversed)
        assert blocked == [] and errors == []
    finally:
        context.close()


# The Embeddings tab's page-side explorer: what it drew and what it hovers.
EXPLORER = """() => {
  for (const m of Bokeh.documents[0].all_models) if (m._aereport && m._aereport.switchTo) {
    const e = m._aereport, v = Bokeh.index.find_one(m), rect = v.el.getBoundingClientRect(), f = v.frame.bbox;
    const out = {shown: e.shown, hovered: e.hovered, image_of: e.shownImage ?? null,
                 ranges: [m.x_range.start, m.x_range.end, m.y_range.start, m.y_range.end],
                 frame: [rect.left + f.x0, rect.top + f.y0, f.width, f.height],
                 canvas: !!e.canvas && e.canvas.isConnected && e.canvas.style.display == 'block'};
    if (e.drawn) {
      const idx = [], col = [], px = e.drawn.pixels;
      for (let i = 0; i < px.length; i++) if (px[i] !== 0) { idx.push(i); col.push(px[i]); }
      Object.assign(out, {n: e.drawn.n, idx, col, shape: e.drawn.shape});
    }
    return out;
  }
  return null; }"""


COORDS = """() => { for (const m of Bokeh.documents[0].all_models) if (m.name == 'layout-coords') {
  const out = {}; for (const [k, v] of Object.entries(m.data)) out[k] = Array.from(v); return out; } }"""
MODEL_TEXT = """(name) => { for (const m of Bokeh.documents[0].all_models) if (m.name == name) return m.text; }"""


def drawn(q: dict, bounds, ranges, shape, codes, allowed, words, shown: int | None = None) -> dict[int, int]:
    """What the page draws for a label filter: {pixel: RGBA word} of every allowed point at its
    16-bit position (the page's float64 arithmetic, step for step), 2×2 pixels below 20,000 points
    (``shown`` of them, if not all of these are drawn)."""
    (b0, b1, b2, b3), (x0, x1, y0, y1), (h, w) = bounds, ranges, shape
    sx, ox = (b2 - b0) * (1 / 65535) / (x1 - x0) * w, (b0 - x0) / (x1 - x0) * w
    sy, oy = (b3 - b1) * (1 / 65535) / (y1 - y0) * h, (b1 - y0) / (y1 - y0) * h
    keep = np.flatnonzero(np.isin(codes, allowed))
    u = np.floor(q["x"][keep] * sx + ox).astype(int)
    v = np.floor(q["y"][keep] * sy + oy).astype(int)
    dot = 2 if (len(keep) if shown is None else shown) < 20_000 else 1
    out = {}
    for i in np.flatnonzero((u >= 0) & (v >= 0) & (u <= w - dot) & (v <= h - dot)):
        for a in range(dot):
            for b in range(dot):
                out[(h - 1 - v[i] - a) * w + u[i] + b] = words[codes[keep[i]]]
    return out


def test_offline_label_filter_and_hover(exported, browser, trained_run):
    """With no server: the label filter redraws only the chosen digits (on every layout, through
    zoom and the animated switch), and hovering names the nearest shown sample and decodes it."""
    from aereport.views.style import abgr

    run = Run(trained_run)
    layouts, dataset = run.load_layouts(), dataset_for(run)
    codes, words = dataset.labels, abgr(list(color_key(dataset).values()))
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        x0, x1, y0, y1 = page.evaluate(RANGES, "raster-ae")
        raster_bounds = {"ae": (x0, y0, x1, y1)}
        coords = page.evaluate(COORDS)
        fractions = {k: np.asarray(v, np.int64) for k, v in coords.items()}
        for name in ("ae", "umap", "tsne", "pca"):  # 16-bit positions, the page's only copy of the layouts
            xy = np.asarray(layouts[name]["xy"], np.float64)
            lo, hi = xy.min(0), xy.max(0)
            pad = 0.02 * (hi - lo).max()
            np.testing.assert_allclose(fractions[f"{name}_x"] / 65535, (xy[:, 0] - lo[0] + pad) / (hi[0] - lo[0] + 2 * pad),
                                       atol=1e-5)
        for digit in "0124567 9".replace(" ", ""):  # leave 3 and 8
            page.get_by_role("button", name=digit, exact=True).click()
        explorer = wait_for(page, lambda: (e := page.evaluate(EXPLORER)) and e.get("n") == np.isin(codes, [3, 8]).sum() and e)
        assert explorer["canvas"]
        ae = {"x": fractions["ae_x"], "y": fractions["ae_y"]}
        expect = drawn(ae, raster_bounds["ae"], explorer["ranges"], explorer["shape"], codes, [3, 8], words)
        assert dict(zip(explorer["idx"], explorer["col"])) == expect
        # Zoomed in, it draws again for the new view.
        x, y, w, h = explorer["frame"]
        page.mouse.move(x + w * 0.5, y + h * 0.5)
        page.mouse.wheel(0, -400)
        zoomed = wait_for(page, lambda: (e := page.evaluate(EXPLORER)) and e["ranges"] != explorer["ranges"]
                          and e.get("n") and e)
        page.wait_for_timeout(300)
        zoomed = page.evaluate(EXPLORER)
        assert dict(zip(zoomed["idx"], zoomed["col"])) == drawn(ae, raster_bounds["ae"], zoomed["ranges"],
                                                                zoomed["shape"], codes, [3, 8], words)

        # Hover over a shown sample that stands apart on screen: its index, label and decoded image.
        x0, x1, y0, y1 = zoomed["ranges"]
        b0, b1, b2, b3 = raster_bounds["ae"]
        xy = np.stack([b0 + ae["x"] / 65535 * (b2 - b0), b1 + ae["y"] / 65535 * (b3 - b1)], 1)
        screen = np.stack([x + (xy[:, 0] - x0) / (x1 - x0) * w, y + (y1 - xy[:, 1]) / (y1 - y0) * h], 1)
        shown = np.flatnonzero(np.isin(codes, [3, 8]) & (screen[:, 0] > x + 20) & (screen[:, 0] < x + w - 20)
                               & (screen[:, 1] > y + 20) & (screen[:, 1] < y + h - 20))
        others = screen[np.isin(codes, [3, 8])]
        gaps = np.sort(np.linalg.norm(screen[shown, None] - others[None], axis=2), axis=1)[:, 1]
        target = int(shown[np.argmax(gaps)])
        assert gaps.max() > 4
        page.mouse.move(*screen[target])
        hovered = wait_for(page, lambda: (e := page.evaluate(EXPLORER)) and e["image_of"] == target and e)
        assert hovered["hovered"] == target
        label = page.evaluate(READ, "hover-marker")
        assert label["x"] == pytest.approx([xy[target, 0]]) and label["y"] == pytest.approx([xy[target, 1]])
        text = f"#{target} · label {dataset.label_text(int(codes[target]))}"
        assert page.evaluate(MODEL_TEXT, "hover-label") == text
        page.get_by_text(text, exact=True).wait_for(timeout=5000)
        data = page.evaluate(READ, "hover-image")
        image = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
        decoder = run.load_autoencoder().decoder
        np.testing.assert_allclose(image, decode_at(decoder, *xy[target]), atol=1e-5)
        assert_shown_whole(page, "hover-image")
        # Far from every shown point, the hover stays where it was.
        page.mouse.move(x + 2, y + 2)
        page.wait_for_timeout(300)
        assert page.evaluate(EXPLORER)["hovered"] == target

        # Switching layout flies only the shown digits, then draws them on UMAP.
        page.get_by_role("button", name="UMAP").click()
        frame = page.evaluate(MID_FLIGHT, "layout-transition")
        assert "missed" not in frame, frame
        assert set(frame["cols"]["c"]) == {3, 8} and len(frame["cols"]["c"]) == np.isin(codes, [3, 8]).sum()
        wait_for(page, lambda: page.evaluate("() => window.aereportTransitions['layout-transition'].done"))
        assert page.evaluate(READ, "hover-marker") == {"x": [], "y": []}  # its sample is elsewhere now
        umap = page.evaluate(EXPLORER)
        assert umap["shown"] == list(LAYOUT_TITLES).index("umap") and umap["canvas"]
        x0, x1, y0, y1 = umap["ranges"]
        expect = drawn({"x": fractions["umap_x"], "y": fractions["umap_y"]}, (x0, y0, x1, y1),
                       umap["ranges"], umap["shape"], codes, [3, 8], words)
        assert dict(zip(umap["idx"], umap["col"])) == expect

        # Every label back on: the Datashader raster returns and the canvas goes.
        for digit in "0124567 9".replace(" ", ""):
            page.get_by_role("button", name=digit, exact=True).click()
        wait_for(page, lambda: not page.evaluate(EXPLORER)["canvas"])
        visible = page.evaluate("""() => [...Bokeh.documents[0].all_models].filter((m) => m.type == 'GlyphRenderer'
            && m.name && m.name.startsWith('raster-') && m.visible).map((m) => m.name)""")
        assert visible == ["raster-umap"]
        assert blocked == [] and errors == []
    finally:
        context.close()


SELECTION = """() => { for (const m of Bokeh.documents[0].all_models) if (m._aereport && m._aereport.switchTo) {
  const e = m._aereport;
  return {picked: e.picked(), grid: e.gridShown ?? null, geometry: e.lastGeometry ?? null}; } }"""


def lit(q: dict, bounds, ranges, shape, codes, allowed, selected, words, veiled) -> dict[int, int]:
    """What the page draws for a selection: :func:`drawn` of the unselected shown samples in their
    veiled colors, then the selected ones over them in their own."""
    shown = int(np.isin(codes, allowed).sum())
    out = drawn(q, bounds, ranges, shape, np.where(selected, -1, codes), allowed, veiled, shown)
    out.update(drawn(q, bounds, ranges, shape, np.where(selected, codes, -1), allowed, words, shown))
    return out


def test_offline_box_selection_follows_the_samples_to_every_layout(exported, browser, trained_run):
    """With no server: a box on one layout selects the samples inside it, lights them (the rest
    veiled) on every layout the buttons switch to, shows them as the decoder draws them, and the
    label filter and the clear button act on the selection."""
    from aereport.views.static import GRID_ACROSS, _veiled
    from aereport.views.style import abgr

    run = Run(trained_run)
    dataset = dataset_for(run)
    codes, colors = dataset.labels, list(color_key(dataset).values())
    words, veiled = abgr(colors), abgr([_veiled(c) for c in colors])
    every = list(range(len(colors)))
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        page.evaluate("""() => { for (const m of Bokeh.documents[0].all_models)
                                   if (m.type == 'BoxSelectTool') m.active = true; }""")
        page.mouse.move(500, 400)
        explorer = wait_for(page, lambda: page.evaluate(EXPLORER))
        assert page.evaluate(GRID_SHOWN) is False  # no empty box before a selection
        x, y, w, h = explorer["frame"]
        page.mouse.move(x + w * 0.35, y + h * 0.3)
        page.mouse.down()
        page.mouse.move(x + w * 0.6, y + h * 0.65, steps=8)
        page.mouse.up()
        sel = wait_for(page, lambda: (s := page.evaluate(SELECTION)) and s["grid"] is not None and s)
        # The samples inside the box the page received, by its own arithmetic on the 16-bit positions.
        fractions = {k: np.asarray(v, np.int64) for k, v in page.evaluate(COORDS).items()}
        x0, x1, y0, y1 = page.evaluate(RANGES, "raster-ae")
        b = (x0, y0, x1, y1)
        px = b[0] + fractions["ae_x"] * (1 / 65535) * (b[2] - b[0])
        py = b[1] + fractions["ae_y"] * (1 / 65535) * (b[3] - b[1])
        g = sel["geometry"]
        inside = ((px >= min(g["x0"], g["x1"])) & (px <= max(g["x0"], g["x1"]))
                  & (py >= min(g["y0"], g["y1"])) & (py <= max(g["y0"], g["y1"])))
        assert 20 < inside.sum() < len(codes) // 2
        assert sel["picked"] == np.flatnonzero(inside).tolist()
        shown = page.evaluate(EXPLORER)
        assert shown["canvas"] and dict(zip(shown["idx"], shown["col"])) == lit(
            {"x": fractions["ae_x"], "y": fractions["ae_y"]}, b, shown["ranges"], shown["shape"], codes, every,
            inside, words, veiled)
        n = int(inside.sum())
        assert page.evaluate(MODEL_TEXT, "selection-label").startswith(f"{n:,} selected")
        assert page.evaluate(GRID_SHOWN) is True

        # The grid: up to 100 of them, evenly spaced, each as the decoder draws it at its latent code.
        picked = np.flatnonzero(inside)
        take = min(n, 100)
        assert sel["grid"] == picked[np.round(np.arange(take) * (n - 1) / max(take - 1, 1)).astype(int)].tolist()
        assert_shown_whole(page, "selection-grid")
        data = page.evaluate(READ, "selection-grid")
        grid = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
        decoder = run.load_autoencoder().decoder
        th, tw = dataset.image_shape
        for t in (0, take - 1):
            tile = grid[(t // GRID_ACROSS) * th:(t // GRID_ACROSS + 1) * th, (t % GRID_ACROSS) * tw:(t % GRID_ACROSS + 1) * tw]
            k = sel["grid"][t]
            np.testing.assert_allclose(tile, decode_at(decoder, px[k], py[k]), atol=1e-5)

        # Switched to t-SNE, the same samples are lit where t-SNE has them.
        page.get_by_role("button", name="t-SNE").click()
        wait_for(page, lambda: page.evaluate("() => window.aereportTransitions['layout-transition'].done"))
        tsne = wait_for(page, lambda: (e := page.evaluate(EXPLORER)) and e["shown"] == list(LAYOUT_TITLES).index("tsne") and e)
        x0, x1, y0, y1 = tsne["ranges"]
        assert dict(zip(tsne["idx"], tsne["col"])) == lit(
            {"x": fractions["tsne_x"], "y": fractions["tsne_y"]}, (x0, y0, x1, y1), tsne["ranges"], tsne["shape"],
            codes, every, inside, words, veiled)

        # The label filter hides one digit of the selection, and the grid loses it.
        digit = int(codes[sel["grid"][0]])
        page.get_by_role("button", name=dataset.label_text(digit), exact=True).click()
        kept = inside & (codes != digit)
        wait_for(page, lambda: page.evaluate(SELECTION)["picked"] == np.flatnonzero(kept).tolist())
        wait_for(page, lambda: digit not in codes[page.evaluate(SELECTION)["grid"]])
        page.get_by_role("button", name=dataset.label_text(digit), exact=True).click()

        # Cleared, the Datashader raster is back.
        page.get_by_role("button", name="Clear selection").click()
        wait_for(page, lambda: not page.evaluate(EXPLORER)["canvas"])
        assert page.evaluate(SELECTION)["picked"] == []
        assert blocked == [] and errors == []
    finally:
        context.close()


@pytest.mark.parametrize("width, height", [(1280, 800), (1920, 1080)])
def test_every_tab_of_the_page_fits_common_windows(exported, browser, width, height):
    context, page, blocked, errors, _ = open_offline(browser, exported, (width, height))
    try:
        for tab in ("Embeddings", "Decoder", "Training", "About"):
            page.get_by_text(tab, exact=True).first.click()
            page.wait_for_timeout(500)
            scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"{tab} is {scroll} px wide in a {inner}-px window"
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_the_training_strips_show_every_image_whole(exported, browser):
    # A Bokeh column lines up its plots' frames: the strips sat under the diagram's frame, 60 px
    # right, and the column cut the eighth image in half at its edge (white page where it ended).
    context, page, blocked, errors, _ = open_offline(browser, exported, (1280, 800))
    try:
        page.get_by_text("Training", exact=True).first.click()
        page.wait_for_timeout(500)
        for name in ("sample-inputs", "sample-outputs"):
            x0, y0 = page.evaluate(LOCATE, [name, 0.0, 0.0])
            x1, y1 = page.evaluate(LOCATE, [name, 1.0, 1.0])
            shot = np.asarray(Image.open(io.BytesIO(page.screenshot(
                clip=dict(x=x0, y=y0, width=x1 - x0, height=y1 - y0)))).convert("L"), float) / 255
            edge = shot[:, -3:].mean()  # MNIST's black border, or the white page past a cut
            assert edge < 0.3, f"{name}: the strip's right edge shows {edge:.2f} (white is cut off)"
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_offline_the_decoded_manifold_is_what_keras_decodes_and_follows_zoom(exported, browser, trained_run):
    """keras.io's plot_latent_space in the page: TF.js decodes a grid over the viewport, at the
    cells' centres as aereport.latent does, to Keras's pixels; a zoom decodes it anew."""
    from aereport.latent import manifold_centres, mosaic

    decoder = Run(trained_run).load_autoencoder().decoder
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        page.locator("input[type=checkbox]").first.click()
        seen = None
        for step in range(2):
            drawn = page.wait_for_function("(seen) => { const d = window.aereport.manifoldDrawn; "
                                           "return d && JSON.stringify(d) !== seen && d; }", arg=seen,
                                           timeout=30000).json_value()
            seen = json.dumps(drawn, separators=(",", ":"))
            (x0, x1, y0, y1), nx, ny = drawn["bounds"], drawn["nx"], drawn["ny"]
            layer = page.evaluate(READ, "decoder-manifold")
            assert layer["shape"] == [ny * 28, nx * 28] and layer["x"] == [x0] and layer["dw"][0] == pytest.approx(x1 - x0)
            xs, ys = manifold_centres((x0, x1, y0, y1), (nx, ny))
            codes = np.array([[x, y] for y in ys[::-1] for x in xs], np.float32)
            expected = mosaic(np.asarray(decoder.predict_on_batch(codes)).reshape(ny, nx, 28, 28))[::-1]
            shown = np.asarray(layer["image"], np.float32).reshape(layer["shape"])
            assert np.abs(shown - expected).max() <= 1e-5
            width, _ = page.evaluate(FRAME_SIZE, "decoder-manifold")
            assert nx == min(24, int(width // 42))
            if step == 0:
                page.mouse.move(*page.evaluate(LOCATE, ["decoder-manifold", 0.4, 0.6]))
                page.mouse.wheel(0, -360)
        page.locator("input[type=checkbox]").first.click()
        page.wait_for_function("() => !Bokeh.documents[0].get_model_by_name('decoder-manifold').visible")
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_offline_zoom_stops_at_about_one_point_in_view(exported, browser, trained_run):
    context, page, blocked, _, _ = open_offline(browser, exported)
    try:
        assert_zoom_stops_at_about_one_point(page, "raster-ae", Run(trained_run).load_layouts()["ae"]["xy"], 300)
        assert blocked == []
    finally:
        context.close()
